// The token fast path reads a profile without its JWKS cache (store::load_profile with
// kWithoutJwksCache, core/json_reader.hpp with limits): it must refuse exactly what ProfileStore::load refuses,
// with the same error, and give the same fields but jwks_cache.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "devicelogin/advanced/profile_store.hpp"
#include "store/profile_reading.hpp"

namespace devicelogin {
namespace {

class ProfileReading : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("devicelogin-profile-reading-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    std::filesystem::permissions(dir_, std::filesystem::perms::owner_all);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Loads `text` as profile "p" both ways and checks they agree; returns the full load.
  Result<Profile> load_both(const std::string& text) {
    const auto path = dir_ / "p.json";
    { std::ofstream(path, std::ios::binary | std::ios::trunc) << text; }
    std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    ProfileStore profiles(dir_.string());
    auto full = profiles.load("p");
    auto fast = store::load_profile(profiles, "p", store::ProfileParts::kWithoutJwksCache);
    EXPECT_EQ(full.has_value(), fast.has_value()) << text;
    if (!full || !fast) {
      if (!full && !fast) {
        EXPECT_EQ(full.error().code, fast.error().code) << text;
        EXPECT_EQ(full.error().message, fast.error().message) << text;
      }
      return full;
    }
    EXPECT_EQ(fast->jwks_cache, "") << text;
    Profile without = *full;
    without.jwks_cache.clear();
    EXPECT_EQ(fields(without), fields(*fast)) << text;
    return full;
  }

  static std::string fields(const Profile& p) {
    std::string out;
    for (const std::string* s : {&p.name, &p.provider, &p.issuer, &p.tenant, &p.client_id, &p.scope, &p.audience,
                                 &p.endpoints.device_authorization, &p.endpoints.token, &p.endpoints.revocation,
                                 &p.endpoints.userinfo, &p.endpoints.jwks, &p.endpoints.authorization,
                                 &p.client_secret_file, &p.client_secret_env,
                                 &p.ca_file, &p.store, &p.jwks_cache}) {
      out += *s + "|";
    }
    out += std::to_string(static_cast<int>(p.client_auth)) + "|" + std::to_string(p.jwks_cache_expires_at) + "|" +
           (p.clock_offset_s ? std::to_string(*p.clock_offset_s) : "none") + "|";
    for (const auto& url : p.api_urls) out += url + ",";
    out += std::string("|") + login_flow_name(p.flow) + "|" + (p.dpop ? "dpop" : "bearer") + "|";
    for (const auto& alg : p.dpop_algs) out += alg + ",";
    return out;
  }

  std::filesystem::path dir_;
};

constexpr const char* kBase = R"("client_id":"c","token_endpoint":"https://t/token")";

TEST_F(ProfileReading, SameFieldsWithoutTheJwksCache) {
  auto full = load_both(std::string("{") + kBase +
                        R"(,"provider":"generic","issuer":"https://i","scope":"openid","store":"kernel-keyring",)"
                        R"("client_auth":"client_secret_post","jwks_uri":"https://i/jwks","clock_offset_s":-12,)"
                        R"("api_urls":["https://a",7,"",["https://nested"],{"u":"x"},"https://b"],)"
                        R"("jwks_cache":{"keys":[{"kty":"RSA","n":"abc","e":"AQAB","client_id":"inner"}]},)"
                        R"("jwks_cache_expires_at":18446744073709551615})");
  ASSERT_TRUE(full);
  EXPECT_FALSE(full->jwks_cache.empty());  // the full load keeps it: the fast one is compared without it
  EXPECT_EQ(full->api_urls, (std::vector<std::string>{"https://a", "https://b"}));
}

TEST_F(ProfileReading, EveryFieldTheFullLoadReads) {
  auto full = load_both(std::string("{") + kBase +
                        R"(,"authorization_endpoint":"https://i/authorize","login_flow":"browser","dpop":true,)"
                        R"("dpop_signing_alg_values_supported":["ES256","",7,"EdDSA"],"scope":"a\u0020b\"c"})");
  ASSERT_TRUE(full);
  EXPECT_EQ(full->endpoints.authorization, "https://i/authorize");
  EXPECT_EQ(full->flow, LoginFlow::kBrowser);
  EXPECT_TRUE(full->dpop);
  EXPECT_EQ(full->dpop_algs, (std::vector<std::string>{"ES256", "EdDSA"}));
  EXPECT_EQ(full->scope, "a b\"c");
  ASSERT_TRUE(load_both(std::string("{") + kBase + R"(,"login_flow":"newer","dpop":"yes","dpop_signing_alg_values_supported":"ES256"})"));
}

TEST_F(ProfileReading, RepeatedNamesTheLastWins) {
  ASSERT_TRUE(load_both(std::string("{") + kBase + R"(,"client_id":"second","api_urls":["x"],"api_urls":"y"})"));
  EXPECT_FALSE(load_both(std::string("{") + kBase + R"(,"client_id":5})"));
  EXPECT_FALSE(load_both(std::string("{") + kBase + R"(,"token_endpoint":{"a":"b"}})"));
  ASSERT_TRUE(load_both(std::string("{") + kBase + R"(,"jwks_cache":{"keys":[]},"jwks_cache":3})"));
}

TEST_F(ProfileReading, NestedMembersAreNotTopLevelOnes) {
  EXPECT_FALSE(load_both(R"({"jwks_cache":{"client_id":"c","token_endpoint":"t"}})"));
  EXPECT_FALSE(load_both(R"({"other":{"client_id":"c"},"token_endpoint":"t"})"));
  EXPECT_FALSE(load_both(R"({"api_urls":[{"client_id":"c"}],"token_endpoint":"t"})"));
}

TEST_F(ProfileReading, NumbersAsTheFullLoadTakesThem) {
  for (const char* offset : {"0", "86400", "86401", "-86400", "-86401", "5.0", "1e3", "18446744073709551615", "\"5\"", "null"}) {
    ASSERT_TRUE(load_both(std::string("{") + kBase + ",\"clock_offset_s\":" + offset + ",\"jwks_cache_expires_at\":" + offset + "}"));
  }
}

TEST_F(ProfileReading, SameRefusals) {
  const std::string deep_jwks = std::string(R"({"client_id":"c","token_endpoint":"t","jwks_cache":)") + std::string(64, '[') +
                                std::string(64, ']') + "}";
  EXPECT_TRUE(load_both(deep_jwks));  // 65 levels: the JWKS cache is one level down
  const std::string too_deep = std::string(R"({"client_id":"c","token_endpoint":"t","jwks_cache":)") + std::string(65, '[') +
                               std::string(65, ']') + "}";
  EXPECT_FALSE(load_both(too_deep));
  EXPECT_FALSE(load_both(too_deep.substr(0, too_deep.size() - 66)));  // too deep and unterminated
  EXPECT_FALSE(load_both(std::string(R"({"client_id":"c","token_endpoint":"t","api_urls":)") + std::string(65, '[') +
                         std::string(65, ']') + "}"));
  EXPECT_TRUE(load_both(std::string(R"({"client_id":"c","token_endpoint":"t","s":")") + std::string(100, '[') + "\"}"));
  const std::string base = std::string("{") + kBase;
  for (const std::string& text : std::vector<std::string>{"", "[]", "\"x\"", "7", "null", "{", "{}", base + "} x", base + ",}",
                                                          base + ",\"jwks_cache\":{\"a\":}}", base + ",\"s\":\"\\ud800\"}",
                                                          base + ",\"s\":\"\xff\"}", base + "/*c*/}", "[" + base + "}]"}) {
    EXPECT_FALSE(load_both(text)) << text;
  }
}

TEST_F(ProfileReading, ANulByteEndsTheTextAsForTheFullLoad) {
  EXPECT_TRUE(load_both(std::string("{") + kBase + std::string("}\0junk", 6)));
  EXPECT_FALSE(load_both(std::string("{") + kBase + std::string("}\0", 2) + std::string(66, '[')));
  EXPECT_FALSE(load_both(std::string("{") + kBase + std::string(",\0}", 3)));
}

TEST_F(ProfileReading, NoProfileAndInvalidNameAlike) {
  ProfileStore profiles(dir_.string());
  for (const char* name : {"absent", "../x", ""}) {
    auto full = profiles.load(name);
    auto fast = store::load_profile(profiles, name, store::ProfileParts::kWithoutJwksCache);
    ASSERT_FALSE(full);
    ASSERT_FALSE(fast);
    EXPECT_EQ(full.error().code, fast.error().code);
    EXPECT_EQ(full.error().message, fast.error().message);
  }
}

}  // namespace
}  // namespace devicelogin
