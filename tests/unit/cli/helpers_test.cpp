// The credential helpers (cli/helpers) as functions, with a token source the test controls: what
// each answers for a bearer token, that each refuses a DPoP-bound one in one error naming what
// works instead, and that a source's "fall through" reaches the caller as such (the fast path then
// hands the command to the full CLI).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <optional>
#include <string>

#include "helpers/helpers.hpp"

namespace devicelogin::cli::helpers {
namespace {

constexpr std::string_view kToken = "tok-3f9a1c";

class FakeSource final : public TokenSource {
 public:
  std::string token_type = "Bearer";
  bool fall_through = false;
  int calls = 0;
  SourceResult<AccessToken> access_token(const std::string& /*profile*/, long long /*min_ttl*/) override {
    ++calls;
    if (fall_through) return std::unexpected(SourceProblem{true, {}});
    return AccessToken{Secret(kToken), token_type, 1'900'000'000};
  }
  SourceResult<void> refresh_if_current(const std::string& /*profile*/, const Secret& /*rejected*/) override {
    return std::unexpected(SourceProblem{true, {}});
  }
  SourceResult<bool> refresh_if_stored(const std::string& /*profile*/) override { return std::unexpected(SourceProblem{true, {}}); }
};

// Every refusal of a DPoP-bound token: an error (exit 2), nothing on stdout, the token nowhere.
void expect_dpop_refused(const Outcome& outcome, std::string_view integration) {
  ASSERT_EQ(outcome.kind, Outcome::Kind::kError);
  EXPECT_EQ(outcome.error.code, ErrorCode::kConfig);
  EXPECT_TRUE(outcome.out.empty());
  const std::string& message = outcome.error.message;
  EXPECT_NE(message.find("DPoP"), std::string::npos) << message;
  EXPECT_NE(message.find(integration), std::string::npos) << message;
  EXPECT_NE(message.find("devicelogin api"), std::string::npos) << message;
  EXPECT_NE(message.find("without --dpop"), std::string::npos) << message;
  EXPECT_EQ(message.find(kToken), std::string::npos);
}

TEST(Helpers, TokenAnswersABearerTokenAndItsHeaderAndRefusesADpopOne) {
  FakeSource source;
  TokenArgs args;
  Outcome bare = token(args, source);
  ASSERT_EQ(bare.kind, Outcome::Kind::kAnswer);
  EXPECT_EQ(bare.out.reveal(), std::string(kToken) + "\n");
  args.header = true;
  source.token_type = "bearer";
  Outcome header = token(args, source);
  ASSERT_EQ(header.kind, Outcome::Kind::kAnswer);
  EXPECT_EQ(header.out.reveal(), "Authorization: Bearer " + std::string(kToken) + "\n");
  source.token_type = "DPoP";
  expect_dpop_refused(token(args, source), "token --header");
  args.header = false;
  source.token_type = "dpop";
  expect_dpop_refused(token(args, source), "token");
}

TEST(Helpers, GitCredentialRefusesADpopToken) {
  FakeSource source;
  GitCredentialArgs args;
  args.operation = "get";
  args.host = "git.example.com";
  StringInput input("protocol=https\nhost=git.example.com\n\n");
  Outcome bearer = git_credential(args, input, source);
  ASSERT_EQ(bearer.kind, Outcome::Kind::kAnswer);
  EXPECT_NE(bearer.out.reveal().find("password=" + std::string(kToken) + "\n"), std::string_view::npos);
  source.token_type = "DPoP";
  expect_dpop_refused(git_credential(args, input, source), "git");
  // Another host is not this helper's: no token is asked for.
  StringInput other("protocol=https\nhost=other.example.com\n\n");
  const int before = source.calls;
  Outcome not_mine = git_credential(args, other, source);
  EXPECT_EQ(not_mine.kind, Outcome::Kind::kNotMine);
  EXPECT_EQ(source.calls, before);
}

TEST(Helpers, KubectlCredentialRefusesADpopToken) {
  FakeSource source;
  KubectlCredentialArgs args;
  args.recorded.server = "https://127.0.0.1:6443";
  const char* info = R"({"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false,"cluster":{"server":"https://127.0.0.1:6443"}}})";
  Outcome bearer = kubectl_credential(args, info, source);
  ASSERT_EQ(bearer.kind, Outcome::Kind::kAnswer);
  EXPECT_NE(bearer.out.reveal().find(kToken), std::string_view::npos);
  source.token_type = "DPoP";
  expect_dpop_refused(kubectl_credential(args, info, source), "kubectl");
}

TEST(Helpers, DockerCredentialRefusesADpopToken) {
  const std::string home = std::filesystem::temp_directory_path() / ("helpers-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(home);
  ::setenv("XDG_CONFIG_HOME", (home + "/config").c_str(), 1);  // NOLINT(concurrency-mt-unsafe): one thread
  ASSERT_TRUE(save_docker_registry_map({{"registry.example.com", DockerRegistryEntry{"work", ""}}}).has_value());
  FakeSource source;
  DockerCredentialArgs args;
  args.operation = "get";
  StringInput input("https://registry.example.com");
  Outcome bearer = docker_credential(args, input, source);
  ASSERT_EQ(bearer.kind, Outcome::Kind::kAnswer);
  EXPECT_NE(bearer.out.reveal().find(kToken), std::string_view::npos);
  source.token_type = "DPoP";
  expect_dpop_refused(docker_credential(args, input, source), "docker");
  std::filesystem::remove_all(home);
}

TEST(Helpers, ASourceThatFallsThroughMakesTheHelperFallThrough) {
  FakeSource source;
  source.fall_through = true;
  EXPECT_EQ(token(TokenArgs{}, source).kind, Outcome::Kind::kFallThrough);
  GitCredentialArgs git;
  git.operation = "erase";
  git.host = "git.example.com";
  StringInput input("protocol=https\nhost=git.example.com\npassword=old\n\n");
  EXPECT_EQ(git_credential(git, input, source).kind, Outcome::Kind::kFallThrough);
  // An error is still an error (the fast path falls through for it too; the full CLI reports it).
  TokenArgs negative;
  negative.min_ttl = -1;
  EXPECT_EQ(token(negative, source).kind, Outcome::Kind::kError);
}

}  // namespace
}  // namespace devicelogin::cli::helpers
