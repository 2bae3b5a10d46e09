// git's credential protocol as gitcredentials(7) writes it: the attribute lines the helper reads,
// the origin it is configured for, and the exact bytes of its answer to `get`.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "devicelogin/http_client.hpp"
#include "git_protocol.hpp"

namespace devicelogin::cli {
namespace {

struct OriginCase {
  std::string host;
  std::optional<std::string> origin;
};

TEST(GitProtocol, OriginOfAHostOrAnOrigin) {
  const OriginCase cases[] = {
      {"git.example.com", "https://git.example.com"},
      {"git.example.com:8443", "https://git.example.com:8443"},
      {"https://git.example.com/", "https://git.example.com"},
      {"http://127.0.0.1:9000", "http://127.0.0.1:9000"},
      {"http://127.9.8.7", "http://127.9.8.7"},
      {"http://localhost:8080/", "http://localhost:8080"},
      {"http://LocalHost", "http://LocalHost"},
      {"http://[::1]:8080", "http://[::1]:8080"},
      {"http://[0:0:0:0:0:0:0:1]", "http://[0:0:0:0:0:0:0:1]"},
      {"https://git.example.com:8443", "https://git.example.com:8443"},
      // Plain http only for loopback hosts, as every other URL of the project.
      {"http://git.example.com", std::nullopt},
      {"http://git.example.com:80", std::nullopt},
      {"http://128.0.0.1", std::nullopt},
      {"http://localhost.example.com", std::nullopt},
      {"http://foo.localhost", std::nullopt},
      {"http://127.1", std::nullopt},
      {"http://[::ffff:127.0.0.1]", std::nullopt},
      {"http://[::2]:8080", std::nullopt},
      {"http://[::1]x", std::nullopt},
      {"http://127.0.0.1:80x", std::nullopt},
      {"https://git.example.com/org/repo", std::nullopt},
      {"user:pw@git.example.com", std::nullopt},
      {"git.example.com\nhost=evil", std::nullopt},
      {"https://", std::nullopt},
      {"", std::nullopt},
  };
  for (const auto& c : cases) {
    const auto origin = git_origin_for(c.host);
    EXPECT_EQ(origin.has_value(), c.origin.has_value()) << c.host;
    if (origin && c.origin) {
      EXPECT_EQ(*origin, *c.origin) << c.host;
    }
    if (!origin && !c.host.empty()) {
      EXPECT_EQ(origin.error().find(c.host), std::string::npos) << "the reason does not quote the input";
    }
  }
}

// The same loopback rule as the library's (devicelogin::is_loopback_url), which the fast path
// cannot call (it links no libcurl).
TEST(GitProtocol, LoopbackRuleAgreesWithTheLibrary) {
  const std::string hosts[] = {"localhost", "LOCALHOST", "127.0.0.1", "127.255.255.254", "126.0.0.1", "128.0.0.1",
                               "[::1]", "[0::1]", "[::2]", "[::ffff:127.0.0.1]", "localhost.", "a.localhost",
                               "example.com", "0.0.0.0", "[::]"};
  for (const auto& host : hosts) {
    EXPECT_EQ(git_loopback_host(host), devicelogin::is_loopback_url("http://" + host + "/")) << host;
  }
}

TEST(GitProtocol, ReadsAttributesUpToTheBlankLine) {
  std::string problem;
  auto parsed = parse_git_attributes("protocol=https\r\nhost=git.example.com\nusername=alice\n\nhost=later\n", problem);
  ASSERT_TRUE(parsed) << problem;
  EXPECT_EQ(parsed->values.at("protocol"), "https");
  EXPECT_EQ(parsed->values.at("host"), "git.example.com");
  EXPECT_EQ(parsed->values.at("username"), "alice");
  EXPECT_TRUE(parsed->password.empty());
}

TEST(GitProtocol, KeepsThePasswordInASecretOnly) {
  std::string problem;
  auto parsed = parse_git_attributes("protocol=https\nhost=h\npassword=p=w\n", problem);
  ASSERT_TRUE(parsed) << problem;
  EXPECT_EQ(parsed->password.reveal(), "p=w");
  EXPECT_EQ(parsed->values.count("password"), 0U);
}

TEST(GitProtocol, RefusesMalformedInput) {
  const std::string cases[] = {"protocol\n", "=https\n", std::string("host=a\0b\n", 9), std::string(64 * 1024 + 1, 'a')};
  for (const auto& input : cases) {
    std::string problem;
    EXPECT_FALSE(parse_git_attributes(input, problem)) << input.size();
    EXPECT_FALSE(problem.empty());
  }
}

TEST(GitProtocol, KnowsWhenTheAttributesAreComplete) {
  EXPECT_FALSE(git_attributes_complete("protocol=https\nhost=h\n"));
  EXPECT_TRUE(git_attributes_complete("protocol=https\nhost=h\n\n"));
  EXPECT_TRUE(git_attributes_complete("protocol=https\r\nhost=h\r\n\r\n"));
  EXPECT_TRUE(git_attributes_complete("\n"));
  EXPECT_FALSE(git_attributes_complete(""));
}

TEST(GitProtocol, AnswersGetWithTheTokenAsPassword) {
  std::string problem;
  auto request = parse_git_attributes("protocol=https\nhost=h\n", problem);
  ASSERT_TRUE(request);
  EXPECT_EQ(format_git_answer("", *request, "tok", 1700000000).reveal(),
            "username=x-access-token\npassword=tok\npassword_expiry_utc=1700000000\n");
  EXPECT_EQ(format_git_answer("bot", *request, "tok", std::nullopt).reveal(), "username=bot\npassword=tok\n");
  auto with_user = parse_git_attributes("protocol=https\nhost=h\nusername=alice\n", problem);
  ASSERT_TRUE(with_user);
  EXPECT_EQ(format_git_answer("", *with_user, "tok", std::nullopt).reveal(), "username=alice\npassword=tok\n");
  EXPECT_EQ(format_git_answer("bot", *with_user, "tok", std::nullopt).reveal(), "username=bot\npassword=tok\n");
}

}  // namespace
}  // namespace devicelogin::cli
