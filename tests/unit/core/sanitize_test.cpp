#include "devicelogin/sanitize.hpp"

#include <gtest/gtest.h>

namespace devicelogin {
namespace {

TEST(Sanitize, RemovesControlCharacters) {
  struct Case {
    std::string input;
    std::string expected;
  };
  const Case cases[] = {
      {"ABCD-EFGH", "ABCD-EFGH"},
      {"", ""},
      {"a\tb\nc\rd", "abcd"},
      {std::string("a\0b", 3), "ab"},
      {"\x01\x1f", ""},
      {"del\x7f", "del"},
      {"\x1b[2Jcleared", "[2Jcleared"},                            // ESC gone: no escape sequence left
      {"\x1b]8;;http://evil\x1b\\link", "]8;;http://evil\\link"},  // OSC 8 hyperlink defused
      {"c1:\xC2\x9B" "31m", "c1:31m"},                               // U+009B CSI as UTF-8
      {"\xC2\x80\xC2\x9F", ""},
      {"caf\xC3\xA9 \xE2\x9C\x93 \xC2\xA0nbsp", "caf\xC3\xA9 \xE2\x9C\x93 \xC2\xA0nbsp"},  // printable UTF-8 kept
      {"\xC2", "\xC2"},  // truncated sequence passes through (not a control)
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.input);
    EXPECT_EQ(sanitize_text(c.input), c.expected);
  }
}

}  // namespace
}  // namespace devicelogin
