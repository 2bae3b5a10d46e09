#include "http/ca_bundle.hpp"

#include <curl/curl.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <system_error>

#include "devicelogin/advanced/error_builders.hpp"
#include "devicelogin/sanitize.hpp"

namespace devicelogin::http {
namespace {

constexpr std::streamsize kMaxBundleBytes = 16 << 20;

std::optional<std::string> read_text(const std::string& path, int& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = errno;
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    error = EIO;
    return std::nullopt;
  }
  return std::move(text).str();
}

}  // namespace

std::string base_ca_bundle_path() {
  const char* from_env = std::getenv("SSL_CERT_FILE");
  if (from_env != nullptr && *from_env != '\0') return from_env;
  // CURLINFO_CAINFO (libcurl 7.84) is the CA file libcurl uses when none is set: the system's.
  CURL* easy = curl_easy_init();
  if (easy == nullptr) return {};
  char* built_in = nullptr;
  std::string path;
  if (curl_easy_getinfo(easy, CURLINFO_CAINFO, &built_in) == CURLE_OK && built_in != nullptr) path = built_in;
  curl_easy_cleanup(easy);
  return path;
}

Result<std::string> combined_ca_bundle(const std::string& base_path, const std::string& extra_path) {
  int error = 0;
  auto extra = read_text(extra_path, error);
  if (!extra) {
    return fail(ErrorCode::kConfig, "cannot use the CA file " + sanitize_text(extra_path) + ": " + std::generic_category().message(error));
  }
  if (extra->find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    return fail(ErrorCode::kConfig, "cannot use the CA file " + sanitize_text(extra_path) + ": it holds no PEM certificate");
  }
  std::string bundle;
  if (!base_path.empty()) {
    int ignored = 0;
    if (auto base = read_text(base_path, ignored)) bundle = std::move(*base);
  }
  if (static_cast<std::streamsize>(bundle.size() + extra->size()) > kMaxBundleBytes) {
    return fail(ErrorCode::kConfig, "cannot use the CA file " + sanitize_text(extra_path) + ": the CA bundles exceed 16 MiB");
  }
  if (!bundle.empty() && bundle.back() != '\n') bundle += '\n';
  bundle += *extra;
  return bundle;
}

}  // namespace devicelogin::http
