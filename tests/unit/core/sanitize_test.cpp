#include "devicelogin/sanitize.hpp"

#include <gtest/gtest.h>

namespace devicelogin {
namespace {

TEST(JsonNesting, CountsArraysAndObjectsOutsideStrings) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  struct Case {
    std::string text;
    std::size_t max_depth;
    bool within;
  };
  const Case cases[] = {
      {"", 0, true},
      {"7", 0, true},
      {"[]", 0, false},
      {"[]", 1, true},
      {R"({"a":[{"b":[]}]})", 4, true},
      {R"({"a":[{"b":[]}]})", 3, false},
      {R"(["[[[[{{{{"])", 1, true},      // brackets inside a string do not nest
      {R"(["\"[[[[", 1])", 1, true},     // nor after an escaped quote
      {R"(["\\", [[]]])", 2, false},     // an escaped backslash ends before the quote that closes
      {"]]]]]][]", 1, true},             // stray closers do not go below zero
      {"[[[", 2, false},                 // unbalanced, and too deep all the same
      {deep, kMaxJsonNesting, false},
      {std::string(kMaxJsonNesting, '[') + std::string(kMaxJsonNesting, ']'), kMaxJsonNesting, true},
      {std::string(kMaxJsonNesting + 1, '{'), kMaxJsonNesting, false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(json_nesting_within(c.text, c.max_depth), c.within) << c.text.substr(0, 40) << " / " << c.max_depth;
  }
}

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
