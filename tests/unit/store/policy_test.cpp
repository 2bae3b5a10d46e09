// The machine policy's parser and its careful reading (devicelogin/policy.hpp).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "devicelogin/policy.hpp"

namespace devicelogin {
namespace {

const std::string kPath = "/etc/devicelogin/policy.json";

TEST(PolicyParse, AcceptsEveryKey) {
  auto policy = parse_policy(R"({
    "issuers": [{"issuer": "https://idp.example.com", "client_ids": ["cli"], "scopes": ["openid", "offline_access"]}],
    "stores": ["kernel-keyring", "secret-service"], "max_session_hours": 8, "idle_hours": 0.5,
    "require_dpop": true, "require_revocation": true, "helpers": ["git", "kubectl"],
    "api_origins": ["https://*.example.com"], "audit": {"enabled": true, "journal": false}})",
                             kPath);
  ASSERT_TRUE(policy) << policy.error().message;
  EXPECT_TRUE(policy->present);
  ASSERT_TRUE(policy->issuers);
  ASSERT_EQ(policy->issuers->size(), 1u);
  EXPECT_EQ((*policy->issuers)[0].issuer, "https://idp.example.com");
  EXPECT_EQ((*policy->issuers)[0].client_ids, std::vector<std::string>{"cli"});
  EXPECT_EQ((*policy->issuers)[0].scopes.size(), 2u);
  EXPECT_EQ(policy->stores->size(), 2u);
  EXPECT_EQ(*policy->max_session_hours, 8);
  EXPECT_EQ(*policy->idle_hours, 0.5);
  EXPECT_TRUE(policy->require_dpop);
  EXPECT_TRUE(policy->require_revocation);
  EXPECT_EQ(*policy->helpers, (std::vector<std::string>{"git", "kubectl"}));
  ASSERT_TRUE(policy->audit);
  EXPECT_TRUE(policy->audit->enabled);
  EXPECT_FALSE(policy->audit->journal);
}

TEST(PolicyParse, EmptyObjectLimitsNothing) {
  auto policy = parse_policy("{}", kPath);
  ASSERT_TRUE(policy);
  EXPECT_FALSE(policy->issuers || policy->stores || policy->max_session_hours || policy->idle_hours ||
               policy->helpers || policy->api_origins || policy->audit);
  EXPECT_FALSE(policy->require_dpop || policy->require_revocation);
}

struct BadCase {
  const char* text;
  const char* key;  // the key the message must name ("" for none)
  const char* problem;
};

class PolicyParseBad : public ::testing::TestWithParam<BadCase> {};

TEST_P(PolicyParseBad, OneLineNamingFileAndKey) {
  const BadCase& bad = GetParam();
  auto policy = parse_policy(bad.text, kPath);
  ASSERT_FALSE(policy) << bad.text;
  EXPECT_EQ(policy.error().code, ErrorCode::kConfig);
  const std::string& message = policy.error().message;
  EXPECT_NE(message.find(kPath), std::string::npos) << message;
  if (*bad.key != '\0') {
    EXPECT_NE(message.find(std::string("key \"") + bad.key + "\""), std::string::npos) << message;
  }
  EXPECT_NE(message.find(bad.problem), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, PolicyParseBad,
    ::testing::Values(BadCase{"{", "", "not valid JSON"}, BadCase{"[]", "", "expected a JSON object"},
                      BadCase{R"({"stores": ["file"], "colour": 1})", "colour", "unknown key"},
                      BadCase{R"({"stores": "file"})", "stores", "list of strings"},
                      BadCase{R"({"stores": ["floppy"]})", "stores", "not one of"},
                      BadCase{R"({"max_session_hours": "8"})", "max_session_hours", "number of hours"},
                      BadCase{R"({"idle_hours": 0})", "idle_hours", "above 0"},
                      BadCase{R"({"idle_hours": -1})", "idle_hours", "above 0"},
                      BadCase{R"({"require_dpop": 1})", "require_dpop", "true or false"},
                      BadCase{R"({"helpers": ["token"]})", "helpers", "not one of"},
                      BadCase{R"({"issuers": [{"client_ids": ["a"]}]})", "issuers[0].issuer", "missing"},
                      BadCase{R"({"issuers": [{"issuer": "https://a", "tenant": "x"}]})", "issuers[0].tenant", "unknown key"},
                      BadCase{R"({"issuers": [{"issuer": "https://a", "scopes": [["x"]]}]})", "issuers", "nests deeper"},
                      BadCase{R"({"audit": {"enabled": true, "where": "/tmp"}})", "audit.where", "unknown key"},
                      BadCase{R"({"audit": {"journal": "yes"}})", "audit.journal", "true or false"},
                      BadCase{R"({"api_origins": [[[[[[[[[]]]]]]]]]})", "api_origins", "nests deeper"}));

TEST(PolicyParse, RefusesMoreThan64KiB) {
  std::string text = R"({"api_origins": [")" + std::string(kMaxPolicyBytes, 'a') + R"("]})";
  auto policy = parse_policy(text, kPath);
  ASSERT_FALSE(policy);
  EXPECT_NE(policy.error().message.find("larger than 64 KiB"), std::string::npos) << policy.error().message;
}

TEST(PolicyParse, DeepNestingIsRefusedWithoutRecursion) {
  // Far deeper than any recursive parser's stack would survive.
  std::string text = R"({"issuers": )" + std::string(30000, '[') + std::string(30000, ']') + "}";
  auto policy = parse_policy(text, kPath);
  ASSERT_FALSE(policy);
  EXPECT_NE(policy.error().message.find("nests deeper"), std::string::npos);
}

TEST(PolicyOrigins, GlobMatchesWithinOneOrigin) {
  EXPECT_TRUE(policy_origin_matches("https://*.example.com", "https://api.example.com"));
  EXPECT_TRUE(policy_origin_matches("https://*.example.com", "https://api.example.com/v1/items?x=1"));
  EXPECT_FALSE(policy_origin_matches("https://*.example.com", "https://api.example.com.evil.net"));
  EXPECT_FALSE(policy_origin_matches("https://*.example.com", "http://api.example.com"));
  EXPECT_FALSE(policy_origin_matches("https://*.example.com", "https://evil.net/x.example.com"));
  EXPECT_TRUE(policy_origin_matches("http://127.0.0.1:*", "http://127.0.0.1:8080"));
  EXPECT_FALSE(policy_origin_matches("https://api.example.com", "https://api.example.com:8443"));
}

TEST(PolicyHelpers, OnlyListedHelpersMayHandOut) {
  Policy policy;
  EXPECT_TRUE(check_policy_helper(policy, "git"));  // no key: every helper
  policy.path = kPath;
  policy.helpers = std::vector<std::string>{"kubectl"};
  EXPECT_TRUE(check_policy_helper(policy, "kubectl"));
  auto refused = check_policy_helper(policy, "git");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find(kPath), std::string::npos);
}

// "agent" (the token agent's hand-outs to remote hosts) is a helper an administrator can name.
TEST(PolicyHelpers, TheAgentIsAHelperName) {
  auto policy = parse_policy(R"({"helpers":["git","agent"]})", kPath);
  ASSERT_TRUE(policy) << policy.error().message;
  EXPECT_TRUE(check_policy_helper(*policy, "agent"));
  auto without = parse_policy(R"({"helpers":["git"]})", kPath);
  ASSERT_TRUE(without);
  EXPECT_FALSE(check_policy_helper(*without, "agent"));
}

// The file checks need a root-owned directory chain: run as root only (CI runs as root).
class PolicyFile : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to own the policy file";
    char pattern[] = "/run/devicelogin-policy-test-XXXXXX";
    char* made = ::mkdtemp(pattern);
    if (made == nullptr) GTEST_SKIP() << "cannot make a directory under /run";
    dir_ = made;
    ::chmod(dir_.c_str(), 0755);
    path_ = dir_ + "/policy.json";
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  void write(const std::string& text, mode_t mode) {
    std::ofstream(path_) << text;
    ::chmod(path_.c_str(), mode);
  }
  std::string dir_;
  std::string path_;
};

TEST_F(PolicyFile, AbsentIsNoPolicy) {
  auto policy = load_policy_file(path_);
  ASSERT_TRUE(policy) << policy.error().message;
  EXPECT_FALSE(policy->present);
}

TEST_F(PolicyFile, RootOwnedIsRead) {
  write(R"({"stores": ["file"]})", 0644);
  auto policy = load_policy_file(path_);
  ASSERT_TRUE(policy) << policy.error().message;
  EXPECT_TRUE(policy->present);
  EXPECT_EQ(*policy->stores, std::vector<std::string>{"file"});
}

TEST_F(PolicyFile, WritableByOthersIsRefused) {
  write("{}", 0666);
  auto policy = load_policy_file(path_);
  ASSERT_FALSE(policy);
  EXPECT_NE(policy.error().message.find("writable by group or others"), std::string::npos) << policy.error().message;
}

TEST_F(PolicyFile, OwnedByAUserIsRefused) {
  write("{}", 0644);
  ASSERT_EQ(::chown(path_.c_str(), 65534, 65534), 0);
  auto policy = load_policy_file(path_);
  ASSERT_FALSE(policy);
  EXPECT_NE(policy.error().message.find("owned by uid 65534"), std::string::npos) << policy.error().message;
}

TEST_F(PolicyFile, DirectoryWritableByOthersIsRefused) {
  write("{}", 0644);
  ::chmod(dir_.c_str(), 0777);
  auto policy = load_policy_file(path_);
  ASSERT_FALSE(policy);
  EXPECT_NE(policy.error().message.find("directory " + dir_), std::string::npos) << policy.error().message;
}

TEST_F(PolicyFile, SymbolicLinkIsRefused) {
  const std::string target = dir_ + "/real.json";
  std::ofstream(target) << "{}";
  ASSERT_EQ(::symlink(target.c_str(), path_.c_str()), 0);
  auto policy = load_policy_file(path_);
  ASSERT_FALSE(policy);
  EXPECT_NE(policy.error().message.find("symbolic link"), std::string::npos) << policy.error().message;
}

TEST_F(PolicyFile, InvalidContentNamesTheFile) {
  write(R"({"stores": 3})", 0644);
  auto policy = load_policy_file(path_);
  ASSERT_FALSE(policy);
  EXPECT_NE(policy.error().message.find(path_), std::string::npos);
  EXPECT_NE(policy.error().message.find("key \"stores\""), std::string::npos);
}

}  // namespace
}  // namespace devicelogin
