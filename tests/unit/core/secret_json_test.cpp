#include "core/secret_json.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace devicelogin {
namespace {

// parse_secret_json replaces nlohmann's parser for secret-bearing documents: it must accept and
// refuse what that parser does, and read the same values (compared through their dumps).
void expect_as_nlohmann(const std::string& text) {
  const nlohmann::json reference = nlohmann::json::parse(text, nullptr, false);
  const auto ours = core::parse_secret_json(text);
  ASSERT_EQ(ours.has_value(), !reference.is_discarded()) << "input: " << text;
  if (!ours) return;
  EXPECT_EQ(std::string(ours->dump()), reference.dump()) << "input: " << text;
  EXPECT_EQ(ours->type(), reference.type()) << "input: " << text;
  if (reference.is_number()) {
    EXPECT_EQ(ours->is_number_unsigned(), reference.is_number_unsigned()) << "input: " << text;
    EXPECT_EQ(ours->is_number_float(), reference.is_number_float()) << "input: " << text;
  }
}

TEST(SecretJson, AcceptsAndRefusesWhatNlohmannDoes) {
  const std::vector<std::string> inputs = {
      R"({"access_token":"abc","token_type":"Bearer","expires_in":3600})",
      R"(  {"a" : [1, 2.5, -3, true, false, null, {"b": []}, {}], "c": "d"}  )",
      R"({"a":1,"a":2})",
      R"("just a string")", "0", "-0", "12", "-12", "1.5e3", "1E-2", "-0.0", "18446744073709551615",
      "18446744073709551616", "-9223372036854775808", "-9223372036854775809", "1e400", "[]", "{}", "true",
      "null", R"("\u00e9\ud83d\ude00\n\t\\\"\/\b\f\r")", "\"\xc3\xa9\"", "\"\xf0\x9f\x98\x80\"",
      // refused
      "", " ", "{", "}", "[1,]", R"({"a":1,})", R"({"a" 1})", R"({a:1})", "01", "1.", ".5", "-", "+1", "1e",
      "0x10", "tru", "nul", "[1 2]", R"({"a":1} x)", "\"unterminated", "\"\x01\"", R"("\x")", R"("\u12")",
      R"("\udc00")", R"("\ud800")", R"("\ud800\u0041")", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf5\x80\x80\x80\"",
      "\"\xe2\x82\"", "NaN", "Infinity", "// c\n{}", "[1]]", "{}}", R"({"a":"b"}{})",
      // plain ASCII runs (read at once) followed by each other kind of character
      "\"ab\xc3\xa9" "cd\"", R"("ab\"cd\\ef\u00e9gh")", "\"ab\xc0\xaf\"", "\"ab\xed\xa0\x80\"", "\"ab\x01" "cd\"",
      "\"ab\ncd\"", "\"abc", "\"ab\\", "\"ab\x7f\""};
  for (const auto& input : inputs) expect_as_nlohmann(input);
}

// (Compared by acceptance only: dump() recurses, and would overflow the stack at this depth.)
TEST(SecretJson, ReadsDeepNestingWithoutRecursion) {
  EXPECT_TRUE(core::parse_secret_json(std::string(100000, '[') + std::string(100000, ']')).has_value());
  EXPECT_TRUE(core::parse_secret_json(R"({"a":)" + std::string(100000, '[') + std::string(100000, ']') + "}").has_value());
  EXPECT_FALSE(core::parse_secret_json(std::string(100000, '[') + std::string(99999, ']')).has_value());
}

}  // namespace
}  // namespace devicelogin
