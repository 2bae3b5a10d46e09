// core::read_json replaces nlohmann's parser where it matters (secrets, the `token` hot path): it
// must accept and refuse what that parser does and read the same values, and with ReadLimits keep
// exactly what they say (compared with nlohmann's document trimmed to them).
#include "core/json_reader.hpp"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "json_reference.hpp"

namespace devicelogin {
namespace {

void expect_as_reference(const std::string& text, const core::ReadLimits& limits) {
  const auto reference = testing::read_json_reference(text, limits);
  const auto ours = core::read_json<nlohmann::json>(text, limits);
  ASSERT_EQ(ours.has_value(), reference.has_value()) << "input: " << text;
  if (!ours) return;
  EXPECT_EQ(ours->dump(), reference->dump()) << "input: " << text;
  EXPECT_EQ(ours->type(), reference->type()) << "input: " << text;
}

constexpr std::size_t kUnbounded = core::ReadLimits{}.max_depth;

core::ReadLimits limits_of(std::size_t max_depth, std::size_t kept_depth, std::string_view left_out_member = {}) {
  return core::ReadLimits{.max_depth = max_depth, .kept_depth = kept_depth, .left_out_member = left_out_member};
}

const std::vector<std::string>& inputs() {
  static const std::vector<std::string> kInputs = {
      R"({"access_token":"abc","token_type":"Bearer","expires_in":3600})",
      R"(  {"a" : [1, 2.5, -3, true, false, null, {"b": []}, {}], "c": "d"}  )",
      R"({"a":1,"a":2})", R"({"a":{"b":{"c":[1,[2,[3]]]}},"jwks_cache":{"keys":[{"n":"x"}]},"z":[{"y":1},"s"]})",
      R"({"jwks_cache":1,"jwks_cache":{"a":2}})", R"([{"jwks_cache":1}])", R"({"x":{"jwks_cache":1}})",
      R"("just a string")", "0", "-0", "12", "-12", "1.5e3", "1E-2", "-0.0", "18446744073709551615",
      "18446744073709551616", "-9223372036854775808", "-9223372036854775809", "1e400", "[]", "{}", "true",
      "null", R"("\u00e9\ud83d\ude00\n\t\\\"\/\b\f\r")", "\"\xc3\xa9\"", "\"\xf0\x9f\x98\x80\"",
      // a byte order mark before the value (nlohmann skips it), and one elsewhere or cut short
      "\xEF\xBB\xBF{\"a\":1}", "\xEF\xBB\xBF", "\xEF\xBB{}", " \xEF\xBB\xBF{}", "{}\xEF\xBB\xBF",
      // a NUL byte: the end of the text after the value (as nlohmann's lexer reads it), else refused
      std::string("1\0" "1,", 4), std::string("{\"a\":1} \0x", 10), std::string("\0{}", 3), std::string("[1,\0]", 5),
      std::string("\"a\0b\"", 5), std::string("{\"a\0\":1}", 9),
      // refused
      "", " ", "{", "}", "[1,]", R"({"a":1,})", R"({"a" 1})", R"({a:1})", "01", "1.", ".5", "-", "+1", "1e",
      "0x10", "tru", "nul", "[1 2]", R"({"a":1} x)", "\"unterminated", "\"\x01\"", R"("\x")", R"("\u12")",
      R"("\udc00")", R"("\ud800")", R"("\ud800\u0041")", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf5\x80\x80\x80\"",
      "\"\xe2\x82\"", "NaN", "Infinity", "// c\n{}", "[1]]", "{}}", R"({"a":"b"}{})",
      R"({"a":{"b":1,}})", R"({"jwks_cache":{"a":}})", R"({"x":[1,{"y":"\q"}]})",
      // plain runs (read eight bytes at a time) ending in each other kind of character at each
      // position of a word
      "\"ab\xc3\xa9" "cd\"", R"("ab\"cd\\ef\u00e9gh")", "\"ab\xc0\xaf\"", "\"ab\xed\xa0\x80\"", "\"ab\x01" "cd\"",
      "\"ab\ncd\"", "\"abc", "\"ab\\", "\"ab\x7f\""};
  return kInputs;
}

TEST(JsonReader, AcceptsAndRefusesWhatNlohmannDoes) {
  for (const auto& input : inputs()) expect_as_reference(input, {});
}

TEST(JsonReader, PlainRunsEndWhereTheyShouldAtEveryOffset) {
  for (std::size_t prefix = 0; prefix <= 17; ++prefix) {
    for (const std::string end : {"\"", "\\\"\"", "\\u0041\"", "\xc3\xa9\"", "\x1f\"", "\x7f\"", "\xff\"", ""}) {
      const std::string text = "\"" + std::string(prefix, 'a') + " !#[]~" + end;
      expect_as_reference(text, {});
      expect_as_reference("{\"k\":" + text + "}", {});
    }
  }
}

TEST(JsonReader, KeepsWhatTheLimitsSay) {
  for (const core::ReadLimits& limits :
       {limits_of(kUnbounded, 0), limits_of(kUnbounded, 1), limits_of(kUnbounded, 2), limits_of(kUnbounded, 2, "jwks_cache"),
        limits_of(2, kUnbounded), limits_of(3, 2, "jwks_cache")}) {
    for (const auto& input : inputs()) expect_as_reference(input, limits);
  }
}

// Gathers what read_json_members gives into an object, as read_json would have.
class Gather final : public core::JsonMemberSink<nlohmann::json> {
 public:
  void member(std::string& name, nlohmann::json&& value) override { members[name] = std::move(value); }
  nlohmann::json members = nlohmann::json::object();
};

TEST(JsonReader, MembersOneByOneAreTheObjectsMembers) {
  for (const core::ReadLimits& limits : {limits_of(kUnbounded, kUnbounded), limits_of(3, 2, "jwks_cache")}) {
    for (const auto& input : inputs()) {
      Gather sink;
      const auto root = core::read_json_members<nlohmann::json>(input, limits, sink);
      const auto whole = core::read_json<nlohmann::json>(input, limits);
      ASSERT_EQ(root.has_value(), whole.has_value()) << input;
      if (!root) continue;
      if (whole->is_object()) {
        EXPECT_EQ(*root, nlohmann::json::object()) << input;
        EXPECT_EQ(sink.members.dump(), whole->dump()) << input;
      } else {
        EXPECT_EQ(root->dump(), whole->dump()) << input;
        EXPECT_EQ(sink.members, nlohmann::json::object()) << input;
      }
    }
  }
}

// core::JsonScanner builds nothing but must refuse exactly what the reader refuses, and the texts
// it gives for the root's members must be the members the reader reads.
void expect_scan_as_reader(const std::string& text, std::size_t max_depth) {
  const auto whole = core::read_json<nlohmann::json>(text, limits_of(max_depth, kUnbounded));
  nlohmann::json members = nlohmann::json::object();
  nlohmann::json elements = nlohmann::json::array();
  const auto root = core::JsonScanner(text, max_depth).scan([&](std::string_view name, std::string_view value) {
    // Each value's text is one whole JSON value (the last of a repeated name wins, as in the reader).
    auto parsed = nlohmann::json::parse(value, nullptr, false);
    ASSERT_FALSE(parsed.is_discarded()) << "input: " << text << " value: " << value;
    if (whole && whole->is_object()) {
      members[std::string(name)] = std::move(parsed);
    } else {
      elements.push_back(std::move(parsed));
    }
  });
  ASSERT_EQ(root != core::JsonScanner::Root::kInvalid, whole.has_value()) << "input: " << text;
  if (!whole) return;
  EXPECT_EQ(root == core::JsonScanner::Root::kObject, whole->is_object()) << "input: " << text;
  if (whole->is_object()) {
    EXPECT_EQ(members.dump(), whole->dump()) << "input: " << text;
  }
  if (whole->is_array()) {
    EXPECT_EQ(elements.dump(), whole->dump()) << "input: " << text;
  }
}

TEST(JsonScanner, RefusesWhatTheReaderRefusesAndGivesItsMembers) {
  for (const std::size_t depth : {kUnbounded, std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{65}}) {
    for (const auto& input : inputs()) expect_scan_as_reader(input, depth);
  }
  for (std::size_t prefix = 0; prefix <= 17; ++prefix) {
    for (const std::string end : {"\"", "\\\"\"", "\\u0041\"", "\xc3\xa9\"", "\x1f\"", "\x7f\"", "\xff\"", ""}) {
      const std::string text = "\"" + std::string(prefix, 'a') + " !#[]~" + end;
      expect_scan_as_reader("{\"k\":" + text + ",\"" + std::string(prefix, 'n') + "\":1}", kUnbounded);
      expect_scan_as_reader("[" + text + "]", kUnbounded);
      // The same endings in a root member's name (the scanner's own fast path for names).
      expect_scan_as_reader("{" + text + ":1,\"z\":2}", kUnbounded);
    }
  }
  EXPECT_EQ(core::JsonScanner(std::string(66, '[') + std::string(66, ']'), 65).scan([](auto, auto) {}),
            core::JsonScanner::Root::kInvalid);
  EXPECT_EQ(core::JsonScanner(std::string(100000, '[') + std::string(100000, ']'), kUnbounded).scan([](auto, auto) {}),
            core::JsonScanner::Root::kOther);
}

TEST(JsonScanner, ValuesReadAsTheReaderReadsThem) {
  const std::string text =
      R"({"s":"plain","e":"a\"b\u00e9\ud83d\ude00","u":18446744073709551615,"i":-12,"f":1.5,"x":1e3,"big":18446744073709551616,)"
      R"("t":true,"n":null,"a":["x",1,"y\n",["z"]],"o":{"k":"v"}})";
  const auto whole = core::read_json<nlohmann::json>(text);
  ASSERT_TRUE(whole);
  std::map<std::string, std::string_view> values;
  ASSERT_EQ(core::JsonScanner(text, kUnbounded).scan([&](std::string_view name, std::string_view value) { values[std::string(name)] = value; }),
            core::JsonScanner::Root::kObject);
  for (const auto& [name, value] : values) {
    const nlohmann::json& expected = (*whole)[name];
    const auto string = core::string_value<std::string>(value);
    EXPECT_EQ(string.has_value(), expected.is_string()) << name;
    if (string) {
      EXPECT_EQ(*string, expected.get<std::string>()) << name;
    }
    const auto integer = core::integer_value(value);
    EXPECT_EQ(integer.has_value(), expected.is_number_integer()) << name;
    if (integer) {
      EXPECT_EQ(integer->value, expected.get<long long>()) << name;
      EXPECT_EQ(integer->is_unsigned, expected.is_number_unsigned()) << name;
    }
    EXPECT_EQ(core::bool_value(value).has_value(), expected.is_boolean()) << name;
  }
  EXPECT_EQ(core::string_elements<std::string>(values["a"]), (std::vector<std::string>{"x", "y\n"}));
  EXPECT_TRUE(core::string_elements<std::string>(values["o"]).empty());
}

TEST(JsonReader, RefusesNestingBeyondItsBound) {
  const core::ReadLimits limits = limits_of(65, kUnbounded);
  EXPECT_TRUE(core::read_json<nlohmann::json>(std::string(65, '[') + std::string(65, ']'), limits));
  EXPECT_FALSE(core::read_json<nlohmann::json>(std::string(66, '[') + std::string(66, ']'), limits));
  EXPECT_FALSE(core::read_json<nlohmann::json>(R"({"a":)" + std::string(65, '[') + std::string(65, ']') + "}", limits));
  EXPECT_TRUE(core::read_json<nlohmann::json>(R"({"a":")" + std::string(100, '[') + "\"}", limits));
  // After a NUL byte that ends the text, brackets still count, as json_nesting_within counts them.
  EXPECT_TRUE(core::read_json<nlohmann::json>(std::string("{}\0", 3) + std::string(65, '['), limits));
  EXPECT_FALSE(core::read_json<nlohmann::json>(std::string("{}\0", 3) + std::string(66, '['), limits));
  // Unbounded by default, and without recursion.
  EXPECT_TRUE(core::read_json<nlohmann::json>(std::string(100000, '[') + std::string(100000, ']'),
                                              limits_of(kUnbounded, 1)));
}

}  // namespace
}  // namespace devicelogin
