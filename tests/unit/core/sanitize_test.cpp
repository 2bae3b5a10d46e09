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
      {"\xC2", "\xEF\xBF\xBD"},  // a truncated sequence is shown as U+FFFD
      {"\xC2\x01\x9B" "31m", "\xEF\xBF\xBD\xEF\xBF\xBD" "31m"},  // removing \x01 does not join a CSI
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.input);
    EXPECT_EQ(sanitize_text(c.input), c.expected);
  }
}

// Characters that draw nothing but hide or reorder what the user reads: a verification URL that
// reads as microsoft.com, a code whose characters appear in another order.
TEST(Sanitize, RemovesBidiAndZeroWidthCharacters) {
  const std::string kFffd = "\xEF\xBF\xBD";
  struct Case {
    std::string input;
    std::string expected;
  };
  const Case cases[] = {
      {"https://micro\u200Bsoft.com/devicelogin", "https://microsoft.com/devicelogin"},  // zero-width space
      {"a\u200Cb\u200Dc\u200Ed\u200Ff", "abcdf"},                                     // ZWNJ, ZWJ, LRM, RLM
      {"https://\u202Emoc.evil\u202C.example", "https://moc.evil.example"},              // right-to-left override + pop
      {"\u202A\u202B\u202C\u202D\u202E", ""},                                         // every embedding and override
      {"\u2066x\u2067y\u2068z\u2069", "xyz"},                                          // isolates
      {"word\u2060joiner\uFEFFbom", "wordjoinerbom"},                                   // word joiner, BOM
      {"soft\u00ADhyphen\u061Cmark", "softhyphenmark"},                                 // soft hyphen, Arabic letter mark
      {"line\u2028para\u2029end", "lineparaend"},                                       // line and paragraph separators
      {"fill\u3164er\u115Fx", "fillerx"},                                               // Hangul fillers
      {"tag\U000E0041\U000E007Fs", "tags"},                                             // tag characters
      {"vs\uFE0Fz", "vsz"},                                                              // variation selector
      {"ABCD\u200B-EFGH", "ABCD-EFGH"},
      // Visible neighbours stay: Cyrillic, CJK, an em dash, an emoji, U+2010 hyphen, U+2070 superscript zero.
      {"\u0430\u4E2D\u2014\U0001F600\u2010\u2070", "\u0430\u4E2D\u2014\U0001F600\u2010\u2070"},
      // Bytes of no well-formed sequence are shown as U+FFFD, one each, and never join into one.
      {"\xE2\x80", kFffd + kFffd},                                    // truncated U+200B
      {"\xE0\x82\x8B", kFffd + kFffd + kFffd},                       // overlong, not U+200B
      {"\xED\xA0\x80", kFffd + kFffd + kFffd},                       // a surrogate
      {"a\xE2\x80\u200B\x8B" "b", "a" + kFffd + kFffd + kFffd + "b"},  // no U+200B left once one is removed
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.input);
    EXPECT_EQ(sanitize_text(c.input), c.expected);
  }
}

}  // namespace
}  // namespace devicelogin
