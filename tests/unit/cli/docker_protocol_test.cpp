// The docker credential helper's pure parts (cli/docker_protocol, cli/docker_config), byte for
// byte against the docker-credential-helpers protocol: the exact stdout of get, list and version,
// the not-found message docker's client matches, Go's JSON string escaping, the input parsers
// with a table of malformed inputs, server URL -> registry host, the registry map file, and the
// credHelpers edits of docker's config.json.
#include <gtest/gtest.h>

#include <map>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "devicelogin/secret.hpp"
#include "docker_config.hpp"
#include "docker_protocol.hpp"

namespace devicelogin::cli {
namespace {

using namespace std::string_literals;

// A short, printable name for a table row (ctest names each row by it): control and non-ASCII
// bytes as \xNN, long inputs cut.
std::string shown(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size() && i < 40; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  out += "\"";
  if (text.size() > 40) out += "..(" + std::to_string(text.size()) + " bytes)";
  return out;
}

TEST(DockerProtocol, MessagesAreTheOnesDockersClientMatches) {
  // docker-credential-helpers credentials/error.go; the client compares the trimmed stdout.
  EXPECT_EQ(kDockerNotFoundMessage, "credentials not found in native keychain");
  EXPECT_EQ(kDockerMissingServerUrlMessage, "no credentials server URL");
  EXPECT_EQ(kDockerMissingUsernameMessage, "no credentials username");
  EXPECT_EQ(docker_protocol_message(DockerInputProblem::kMissingServerUrl), kDockerMissingServerUrlMessage);
  EXPECT_EQ(docker_protocol_message(DockerInputProblem::kMissingUsername), kDockerMissingUsernameMessage);
  EXPECT_EQ(docker_protocol_message(DockerInputProblem::kMalformed), "");
}

TEST(DockerProtocol, GetAnswerIsGosEncodingOfCredentials) {
  const Secret token("eyJhbGciOi.JIUzI1NiJ9-_~+/=");
  const Secret answer = format_docker_get_answer("registry.example.com", "oauth2accesstoken", token);
  EXPECT_EQ(answer.reveal(),
            "{\"ServerURL\":\"registry.example.com\",\"Username\":\"oauth2accesstoken\","
            "\"Secret\":\"eyJhbGciOi.JIUzI1NiJ9-_~+/=\"}\n");
  // The server URL as docker sent it (trimmed), not the normalised host.
  EXPECT_EQ(format_docker_get_answer("https://index.docker.io/v1/", "u", Secret("t")).reveal(),
            "{\"ServerURL\":\"https://index.docker.io/v1/\",\"Username\":\"u\",\"Secret\":\"t\"}\n");
}

TEST(DockerProtocol, GetAnswerParsesBackAsJson) {
  const Secret answer = format_docker_get_answer("localhost:5000", "a\"b<c>", Secret("x\\y&z\n"));
  const auto doc = nlohmann::json::parse(answer.reveal());
  EXPECT_EQ(doc.at("ServerURL"), "localhost:5000");
  EXPECT_EQ(doc.at("Username"), "a\"b<c>");
  EXPECT_EQ(doc.at("Secret"), "x\\y&z\n");
}

struct EscapeCase {
  std::string input;
  std::string expected;  // with the quotes
};
void PrintTo(const EscapeCase& row, std::ostream* os) { *os << shown(row.input); }

class DockerJsonEscape : public ::testing::TestWithParam<EscapeCase> {};

TEST_P(DockerJsonEscape, MatchesGoEncodingJson) {
  std::string plain;
  append_docker_json_string(plain, GetParam().input);
  EXPECT_EQ(plain, GetParam().expected);
  Secret secret;
  append_docker_json_string(secret, GetParam().input);
  EXPECT_EQ(secret.reveal(), GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    Table, DockerJsonEscape,
    ::testing::Values(EscapeCase{"", "\"\""}, EscapeCase{"plain-token_0.9~+/=", "\"plain-token_0.9~+/=\""},
                      EscapeCase{"a\"b\\c", "\"a\\\"b\\\\c\""},
                      // HTML-safe escaping, encoding/json's default
                      EscapeCase{"<>&", "\"\\u003c\\u003e\\u0026\""},
                      EscapeCase{"\n\r\t\b\f", "\"\\n\\r\\t\\b\\f\""},
                      EscapeCase{"\x01\x1f"s, "\"\\u0001\\u001f\""}, EscapeCase{"\0"s, "\"\\u0000\""},
                      EscapeCase{"\x7f", "\"\x7f\""},
                      EscapeCase{"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""},
                      EscapeCase{"\xe2\x80\xa8|\xe2\x80\xa9", "\"\\u2028|\\u2029\""},
                      // invalid UTF-8: each offending byte becomes U+FFFD
                      EscapeCase{"\xff", "\"\\ufffd\""}, EscapeCase{"a\xc3", "\"a\\ufffd\""},
                      EscapeCase{"\xc0\xaf", "\"\\ufffd\\ufffd\""},
                      EscapeCase{"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""},
                      EscapeCase{"\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""},
                      EscapeCase{"\xe0\x80\x80", "\"\\ufffd\\ufffd\\ufffd\""}));

TEST(DockerProtocol, ListIsASortedObjectAndANewline) {
  EXPECT_EQ(format_docker_list({}), "{}\n");
  EXPECT_EQ(format_docker_list({{"registry.example.com", "oauth2accesstoken"},
                                {"https://index.docker.io/v1/", "me"},
                                {"localhost:5000", "x-access-token"}}),
            "{\"https://index.docker.io/v1/\":\"me\",\"localhost:5000\":\"x-access-token\","
            "\"registry.example.com\":\"oauth2accesstoken\"}\n");
  EXPECT_EQ(format_docker_list({{"a&b", "<u>"}}), "{\"a\\u0026b\":\"\\u003cu\\u003e\"}\n");
}

TEST(DockerProtocol, VersionLine) {
  EXPECT_EQ(format_docker_version("0.1.0"), "docker-credential-devicelogin (devicelogin) 0.1.0\n");
}

struct ServerUrlCase {
  std::string input;
  std::string expected;  // the server URL, or "" when refused
  DockerInputProblem problem = DockerInputProblem::kMalformed;
};
void PrintTo(const ServerUrlCase& row, std::ostream* os) { *os << shown(row.input); }

class DockerServerUrlInput : public ::testing::TestWithParam<ServerUrlCase> {};

TEST_P(DockerServerUrlInput, ParsesOrRefuses) {
  const auto& c = GetParam();
  auto parsed = parse_docker_server_url(c.input);
  if (c.expected.empty()) {
    ASSERT_FALSE(parsed.has_value()) << *parsed;
    EXPECT_EQ(parsed.error().problem, c.problem);
    EXPECT_FALSE(parsed.error().message.empty());
    EXPECT_EQ(parsed.error().message.find('\n'), std::string::npos);
  } else {
    ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
    EXPECT_EQ(*parsed, c.expected);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, DockerServerUrlInput,
    ::testing::Values(ServerUrlCase{"registry.example.com", "registry.example.com"},
                      ServerUrlCase{"registry.example.com\n", "registry.example.com"},
                      ServerUrlCase{"  https://index.docker.io/v1/ \r\n", "https://index.docker.io/v1/"},
                      ServerUrlCase{"localhost:5000", "localhost:5000"},
                      ServerUrlCase{std::string(kDockerMaxInput, 'a'), std::string(kDockerMaxInput, 'a')},
                      ServerUrlCase{"", "", DockerInputProblem::kMissingServerUrl},
                      ServerUrlCase{"\n", "", DockerInputProblem::kMissingServerUrl},
                      ServerUrlCase{" \t\r\n ", "", DockerInputProblem::kMissingServerUrl},
                      ServerUrlCase{"a.example\nb.example", ""}, ServerUrlCase{"a.example\rb", ""},
                      ServerUrlCase{"a.example\0b"s, ""}, ServerUrlCase{"\0"s, ""},
                      ServerUrlCase{"a\x01" "b", ""}, ServerUrlCase{"a\x1b[31mb", ""}, ServerUrlCase{"a\x7f", ""},
                      ServerUrlCase{std::string(kDockerMaxInput + 1, 'a'), ""}));

struct HostCase {
  std::string server_url;
  std::string host;  // "" when refused
};
void PrintTo(const HostCase& row, std::ostream* os) { *os << shown(row.server_url); }

class DockerRegistryHost : public ::testing::TestWithParam<HostCase> {};

TEST_P(DockerRegistryHost, Normalises) {
  const auto host = docker_registry_host(GetParam().server_url);
  if (GetParam().host.empty()) {
    EXPECT_FALSE(host.has_value()) << *host;
  } else {
    ASSERT_TRUE(host.has_value());
    EXPECT_EQ(*host, GetParam().host);
    EXPECT_EQ(docker_registry_host(*host), *host) << "a normalised host is its own normal form";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, DockerRegistryHost,
    ::testing::Values(
        HostCase{"registry.example.com", "registry.example.com"}, HostCase{"Registry.Example.COM", "registry.example.com"},
        HostCase{"localhost:5000", "localhost:5000"}, HostCase{"https://localhost:5000/v2/", "localhost:5000"},
        HostCase{"http://127.0.0.1:5000", "127.0.0.1:5000"}, HostCase{"HTTPS://registry.example.com?x=1", "registry.example.com"},
        HostCase{"//registry.example.com/ns/image", "registry.example.com"},
        HostCase{"registry.example.com/ns/image", "registry.example.com"},
        HostCase{"https://index.docker.io/v1/", "docker.io"}, HostCase{"index.docker.io", "docker.io"},
        HostCase{"docker.io", "docker.io"}, HostCase{"registry-1.docker.io", "docker.io"},
        HostCase{"registry.hub.docker.com", "docker.io"}, HostCase{"index.docker.io:5000", "index.docker.io:5000"},
        HostCase{"[::1]:5000", "[::1]:5000"}, HostCase{"https://[FE80::1]/v2/", "[fe80::1]"},
        HostCase{"ftp://registry.example.com", ""}, HostCase{"https://", ""}, HostCase{"", ""},
        HostCase{"user:pw@registry.example.com", ""}, HostCase{"https://user@registry.example.com/", ""},
        HostCase{"registry.example.com:0", ""}, HostCase{"registry.example.com:65536", ""},
        HostCase{"registry.example.com:", ""}, HostCase{"registry.example.com:abc", ""},
        HostCase{"registry example.com", ""}, HostCase{" registry.example.com", ""}, HostCase{"a..b", ""},
        HostCase{".example.com", ""}, HostCase{"example.com.", ""}, HostCase{"reg_istry.example.com", ""},
        HostCase{"[::1", ""}, HostCase{"[zz::1]", ""}, HostCase{"[]", ""}, HostCase{"[::1]x", ""},
        HostCase{"r\xc3\xa9gistry.example", ""}));

TEST(DockerProtocol, CredentialHelperKeys) {
  EXPECT_EQ(docker_credential_helper_keys("registry.example.com"), std::vector<std::string>{"registry.example.com"});
  EXPECT_EQ(docker_credential_helper_keys("docker.io"), (std::vector<std::string>{"https://index.docker.io/v1/", "docker.io"}));
}

constexpr std::string_view kCanary = "s3cr3t-canary-password";

TEST(DockerProtocol, StoreRequestParses) {
  const std::string input = R"({"ServerURL":"https://index.docker.io/v1/","Username":"me","Secret":"s3cr3t-canary-password"})";
  auto request = parse_docker_store_request(input);
  ASSERT_TRUE(request.has_value()) << request.error().message;
  EXPECT_EQ(request->server_url, "https://index.docker.io/v1/");
  EXPECT_EQ(request->username, "me");
  EXPECT_EQ(request->secret.reveal(), kCanary);
  // Go's encoding/json: member names also match ignoring case; unknown members are ignored.
  auto folded = parse_docker_store_request(R"({"serverurl":"r.example","USERNAME":"u","secret":"x","Email":"e"})");
  ASSERT_TRUE(folded.has_value()) << folded.error().message;
  EXPECT_EQ(folded->server_url, "r.example");
  EXPECT_EQ(folded->username, "u");
  EXPECT_EQ(folded->secret.reveal(), "x");
  // No Secret is still a well-formed request.
  EXPECT_TRUE(parse_docker_store_request(R"({"ServerURL":"r.example","Username":"u"})").has_value());
}

struct StoreCase {
  std::string input;
  DockerInputProblem problem;
};
void PrintTo(const StoreCase& row, std::ostream* os) { *os << shown(row.input); }

class DockerStoreInput : public ::testing::TestWithParam<StoreCase> {};

TEST_P(DockerStoreInput, RefusedWithoutQuotingTheInput) {
  auto request = parse_docker_store_request(GetParam().input);
  ASSERT_FALSE(request.has_value());
  EXPECT_EQ(request.error().problem, GetParam().problem);
  EXPECT_EQ(request.error().message.find(kCanary), std::string::npos) << "the message quotes the secret";
  EXPECT_EQ(request.error().message.find("s3cr3t"), std::string::npos);
  EXPECT_EQ(request.error().message.find('\n'), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Table, DockerStoreInput,
    ::testing::Values(
        StoreCase{R"({"Username":"u","Secret":"s3cr3t-canary-password"})", DockerInputProblem::kMissingServerUrl},
        StoreCase{R"({"ServerURL":"","Username":"u","Secret":"s3cr3t-canary-password"})", DockerInputProblem::kMissingServerUrl},
        StoreCase{R"({"ServerURL":null,"Username":"u"})", DockerInputProblem::kMissingServerUrl},
        StoreCase{R"({"ServerURL":"r.example","Secret":"s3cr3t-canary-password"})", DockerInputProblem::kMissingUsername},
        StoreCase{R"({"ServerURL":"r.example","Username":"","Secret":"s3cr3t-canary-password"})", DockerInputProblem::kMissingUsername},
        StoreCase{"", DockerInputProblem::kMalformed}, StoreCase{"registry.example.com", DockerInputProblem::kMalformed},
        StoreCase{R"({"ServerURL":"r.example","Username":"u","Secret":"s3cr3t-canary-password")", DockerInputProblem::kMalformed},
        StoreCase{R"({"ServerURL":"r.example","Username":"u","Secret":"s3cr3t-canary-password"} trailing)", DockerInputProblem::kMalformed},
        StoreCase{R"(["r.example","u","s3cr3t-canary-password"])", DockerInputProblem::kMalformed},
        StoreCase{R"({"ServerURL":5,"Username":"u"})", DockerInputProblem::kMalformed},
        StoreCase{R"({"ServerURL":"r","Username":"u","Secret":["s3cr3t-canary-password"]})", DockerInputProblem::kMalformed},
        StoreCase{"{\"ServerURL\":\"r\",\"Username\":\"u\",\"Secret\":\"s3cr3t-canary-password\xff\"}", DockerInputProblem::kMalformed},
        StoreCase{R"({"ServerURL":"r","Username":"u","Secret":")" + std::string(kDockerMaxInput, 'a') + "\"}",
                  DockerInputProblem::kMalformed}));

TEST(DockerProtocol, RegistryMapRoundTrip) {
  const DockerRegistryMap registries{{"registry.example.com", {"work", ""}}, {"localhost:5000", {"default", "ci-bot"}}};
  const std::string text = format_docker_registry_map(registries);
  EXPECT_EQ(text,
            "{\n  \"registries\": {\n    \"localhost:5000\": {\n      \"profile\": \"default\",\n      \"username\": \"ci-bot\"\n"
            "    },\n    \"registry.example.com\": {\n      \"profile\": \"work\"\n    }\n  }\n}\n");
  auto parsed = parse_docker_registry_map(text);
  ASSERT_TRUE(parsed.has_value()) << parsed.error();
  EXPECT_EQ(*parsed, registries);
  EXPECT_EQ(docker_username_for(parsed->at("registry.example.com")), kDockerDefaultUsername);
  EXPECT_EQ(docker_username_for(parsed->at("localhost:5000")), "ci-bot");
  EXPECT_TRUE(parse_docker_registry_map("{}")->empty());
  EXPECT_TRUE(parse_docker_registry_map(R"({"registries":{},"future":1})")->empty());
}

class DockerRegistryMapRefusal : public ::testing::TestWithParam<std::string> {};

TEST_P(DockerRegistryMapRefusal, Refused) {
  auto parsed = parse_docker_registry_map(GetParam());
  ASSERT_FALSE(parsed.has_value());
  EXPECT_EQ(parsed.error().find('\n'), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Table, DockerRegistryMapRefusal,
                         ::testing::Values("", "not json", "[]", R"({"registries":[]})",
                                           R"({"registries":{"Registry.example.com":{"profile":"p"}}})",
                                           R"({"registries":{"https://r.example":{"profile":"p"}}})",
                                           R"({"registries":{"r.example":"p"}})", R"({"registries":{"r.example":{}}})",
                                           R"({"registries":{"r.example":{"profile":""}}})",
                                           R"({"registries":{"r.example":{"profile":"p","username":"<token>"}}})",
                                           R"({"registries":{"r.example":{"profile":"p","username":7}}})"));

TEST(DockerProtocol, UsernameProblems) {
  EXPECT_FALSE(docker_username_problem("oauth2accesstoken").has_value());
  EXPECT_FALSE(docker_username_problem("me@example.com").has_value());
  EXPECT_TRUE(docker_username_problem("").has_value());
  EXPECT_TRUE(docker_username_problem("<token>").has_value());
  EXPECT_TRUE(docker_username_problem("a\nb").has_value());
  EXPECT_TRUE(docker_username_problem(std::string(kDockerMaxUsername + 1, 'u')).has_value());
  EXPECT_FALSE(docker_username_problem(std::string(kDockerMaxUsername, 'u')).has_value());
}

// ---- docker's config.json ----

const std::vector<std::string> kKeys{"registry.example.com"};

TEST(DockerConfig, AddsCredHelpersToNoFile) {
  for (const char* blank : {"", "  \n"}) {
    auto edit = add_docker_credential_helpers(blank, kKeys, "devicelogin");
    ASSERT_TRUE(edit.has_value()) << edit.error();
    EXPECT_TRUE(edit->changed);
    EXPECT_EQ(edit->text, "{\n\t\"credHelpers\": {\n\t\t\"registry.example.com\": \"devicelogin\"\n\t}\n}\n");
  }
}

TEST(DockerConfig, KeepsEveryOtherMemberInOrderAndIsIdempotent) {
  const std::string original =
      R"({"zeta":{"psFormat":"x"},"auths":{"other.example":{"auth":"dTpw"}},"credsStore":"desktop",)"
      R"("credHelpers":{"gcr.io":"gcloud"},"alpha":[1,2,{"b":null}],"unicode":"caf\u00e9"})";
  auto added = add_docker_credential_helpers(original, {"https://index.docker.io/v1/", "docker.io"}, "devicelogin");
  ASSERT_TRUE(added.has_value()) << added.error();
  EXPECT_TRUE(added->changed);
  const auto doc = nlohmann::ordered_json::parse(added->text);
  std::vector<std::string> order;
  for (const auto& [key, value] : doc.items()) order.push_back(key);
  EXPECT_EQ(order, (std::vector<std::string>{"zeta", "auths", "credsStore", "credHelpers", "alpha", "unicode"}));
  EXPECT_EQ(doc["credHelpers"], nlohmann::ordered_json::parse(
                                    R"({"gcr.io":"gcloud","https://index.docker.io/v1/":"devicelogin","docker.io":"devicelogin"})"));
  EXPECT_EQ(doc["auths"], nlohmann::ordered_json::parse(R"({"other.example":{"auth":"dTpw"}})"));
  EXPECT_EQ(doc["unicode"], "caf\xc3\xa9");

  auto again = add_docker_credential_helpers(added->text, {"https://index.docker.io/v1/", "docker.io"}, "devicelogin");
  ASSERT_TRUE(again.has_value());
  EXPECT_FALSE(again->changed);
  EXPECT_EQ(again->text, added->text);

  auto removed = remove_docker_credential_helpers(added->text, {"https://index.docker.io/v1/", "docker.io"}, "devicelogin");
  ASSERT_TRUE(removed.has_value()) << removed.error();
  EXPECT_TRUE(removed->changed);
  EXPECT_EQ(nlohmann::ordered_json::parse(removed->text), nlohmann::ordered_json::parse(original));
  auto removed_again = remove_docker_credential_helpers(removed->text, {"https://index.docker.io/v1/", "docker.io"}, "devicelogin");
  ASSERT_TRUE(removed_again.has_value());
  EXPECT_FALSE(removed_again->changed);
}

TEST(DockerConfig, RemoveTakesOutOnlyItsOwnEntriesAndTheObjectItMade) {
  auto added = add_docker_credential_helpers(R"({"auths":{}})", kKeys, "devicelogin");
  ASSERT_TRUE(added.has_value());
  auto removed = remove_docker_credential_helpers(added->text, kKeys, "devicelogin");
  ASSERT_TRUE(removed.has_value());
  EXPECT_EQ(removed->text, "{\n\t\"auths\": {}\n}\n");
  // Another helper's entry for the key stays.
  auto other = remove_docker_credential_helpers(R"({"credHelpers":{"registry.example.com":"ecr-login"}})", kKeys, "devicelogin");
  ASSERT_TRUE(other.has_value());
  EXPECT_FALSE(other->changed);
  // An empty credHelpers the user wrote is not ours to remove.
  auto empty = remove_docker_credential_helpers(R"({"credHelpers":{}})", kKeys, "devicelogin");
  ASSERT_TRUE(empty.has_value());
  EXPECT_FALSE(empty->changed);
  // Setup replaces another helper's entry for this registry (that is what it was asked).
  auto replaced = add_docker_credential_helpers(R"({"credHelpers":{"registry.example.com":"ecr-login"}})", kKeys, "devicelogin");
  ASSERT_TRUE(replaced.has_value());
  EXPECT_TRUE(replaced->changed);
  EXPECT_EQ(nlohmann::json::parse(replaced->text)["credHelpers"]["registry.example.com"], "devicelogin");
}

// A rewrite keeps every number as the user wrote it (not through a double) and every
// other value as it was.
TEST(DockerConfig, KeepsNumbersAsWritten) {
  const std::string original =
      R"({"big":12345678901234567890123,"precise":0.1000000000000000055511151231257827,"exp":1E+2,"neg":-9223372036854775808,)"
      R"("max":18446744073709551615,"list":[1.50,2e-7,{"n":0.0}],"t":true,"f":false,"z":null,"s":"a\"\\\n\u0001\u00e9"})";
  auto added = add_docker_credential_helpers(original, kKeys, "devicelogin");
  ASSERT_TRUE(added.has_value()) << added.error();
  for (const char* lexeme : {"12345678901234567890123", "0.1000000000000000055511151231257827", "1E+2", "-9223372036854775808",
                             "18446744073709551615", "1.50", "2e-7", "0.0"}) {
    EXPECT_NE(added->text.find(lexeme), std::string::npos) << lexeme;
  }
  auto removed = remove_docker_credential_helpers(added->text, kKeys, "devicelogin");
  ASSERT_TRUE(removed.has_value()) << removed.error();
  EXPECT_EQ(removed->text,
            "{\n\t\"big\": 12345678901234567890123,\n\t\"precise\": 0.1000000000000000055511151231257827,\n\t\"exp\": 1E+2,\n"
            "\t\"neg\": -9223372036854775808,\n\t\"max\": 18446744073709551615,\n\t\"list\": [\n\t\t1.50,\n\t\t2e-7,\n\t\t{\n"
            "\t\t\t\"n\": 0.0\n\t\t}\n\t],\n\t\"t\": true,\n\t\"f\": false,\n\t\"z\": null,\n"
            "\t\"s\": \"a\\\"\\\\\\n\\u0001\xc3\xa9\"\n}\n");
  // A repeated name keeps one value, the last, where the first was.
  auto repeated = add_docker_credential_helpers(R"({"a":1,"b":2,"a":3})", kKeys, "devicelogin");
  ASSERT_TRUE(repeated.has_value());
  EXPECT_EQ(repeated->text, "{\n\t\"a\": 3,\n\t\"b\": 2,\n\t\"credHelpers\": {\n\t\t\"registry.example.com\": \"devicelogin\"\n\t}\n}\n");
}

TEST(DockerConfig, RefusesAConfigNestedTooDeeplyInsteadOfOverflowingTheStack) {
  // Found by clang-tidy's misc-no-recursion on the old wipe: setup-docker on such a file died of a
  // stack overflow (a copy of the document recursed 200,000 levels deep).
  const std::string text = R"({"auths":{},"x":)" + std::string(200000, '[') + std::string(200000, ']') + "}";
  for (bool remove : {false, true}) {
    auto edit = remove ? remove_docker_credential_helpers(text, kKeys, "devicelogin")
                       : add_docker_credential_helpers(text, kKeys, "devicelogin");
    ASSERT_FALSE(edit.has_value());
    EXPECT_NE(edit.error().find("more than 64 levels deep"), std::string::npos) << edit.error();
  }
  auto shallow = add_docker_credential_helpers(R"({"x":[[[[{"y":[]}]]]]})", kKeys, "devicelogin");
  EXPECT_TRUE(shallow.has_value());
}

TEST(DockerConfig, RefusesWhatIsNotADockerConfigWithoutQuotingIt) {
  const std::vector<std::string> texts{R"({"auths":{"x":{"auth":"s3cr3t-canary-password"}})", "[1,2]",
                                       "\"s3cr3t-canary-password\"", R"({"credHelpers":["s3cr3t-canary-password"]})"};
  for (const std::string& text : texts) {
    for (bool remove : {false, true}) {
      auto edit = remove ? remove_docker_credential_helpers(text, kKeys, "devicelogin")
                         : add_docker_credential_helpers(text, kKeys, "devicelogin");
      ASSERT_FALSE(edit.has_value()) << text;
      EXPECT_EQ(edit.error().find("s3cr3t"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace devicelogin::cli
