// --ca-file adds to the trusted bundle, never replaces it: the blob handed to libcurl is the base bundle
// (the system's, or SSL_CERT_FILE, which replaces it) followed by the extra file.
#include "http/ca_bundle.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace devicelogin {
namespace {

constexpr const char* kPem = "-----BEGIN CERTIFICATE-----\nTEST-CA\n-----END CERTIFICATE-----\n";

class CaBundleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "devicelogin-ca-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    ::unsetenv("SSL_CERT_FILE");
  }
  void TearDown() override {
    ::unsetenv("SSL_CERT_FILE");
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  std::string write(const std::string& name, const std::string& text) const {
    std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  static std::string read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }
  std::string dir_;
};

TEST_F(CaBundleTest, TheExtraFileFollowsTheBase) {
  auto bundle = http::combined_ca_bundle(write("base.pem", "BASE-BUNDLE"), write("extra.pem", kPem));
  ASSERT_TRUE(bundle.has_value()) << bundle.error().message;
  EXPECT_EQ(*bundle, std::string("BASE-BUNDLE\n") + kPem);
}

TEST_F(CaBundleTest, TheSystemBundleIsTheBaseAndIsKept) {
  const std::string system = http::base_ca_bundle_path();
  ASSERT_FALSE(system.empty()) << "libcurl reports no built-in CA file";
  const std::string system_text = read(system);
  ASSERT_NE(system_text.find("-----BEGIN CERTIFICATE-----"), std::string::npos)
      << system << " holds no certificate (is ca-certificates installed?)";
  auto bundle = http::combined_ca_bundle(system, write("extra.pem", kPem));
  ASSERT_TRUE(bundle.has_value()) << bundle.error().message;
  EXPECT_TRUE(bundle->starts_with(system_text));
  EXPECT_TRUE(bundle->ends_with(kPem));
}

TEST_F(CaBundleTest, SslCertFileReplacesTheSystemBundle) {
  const std::string replacement = write("env.pem", kPem);
  ::setenv("SSL_CERT_FILE", replacement.c_str(), 1);
  EXPECT_EQ(http::base_ca_bundle_path(), replacement);
}

TEST_F(CaBundleTest, AnExtraFileWithoutCertificatesIsAConfigError) {
  for (const std::string& extra : {write("empty.pem", ""), write("junk.pem", "not a certificate"),
                                   dir_ + "/missing.pem"}) {
    SCOPED_TRACE(extra);
    auto bundle = http::combined_ca_bundle(write("base.pem", kPem), extra);
    ASSERT_FALSE(bundle.has_value());
    EXPECT_EQ(bundle.error().code, ErrorCode::kConfig);
    EXPECT_NE(bundle.error().message.find(extra), std::string::npos) << bundle.error().message;
  }
}

TEST_F(CaBundleTest, AMissingBaseLeavesTheExtra) {
  auto bundle = http::combined_ca_bundle(dir_ + "/no-such-base.pem", write("extra.pem", kPem));
  ASSERT_TRUE(bundle.has_value()) << bundle.error().message;
  EXPECT_EQ(*bundle, kPem);
}

}  // namespace
}  // namespace devicelogin
