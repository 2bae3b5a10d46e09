#pragma once
// HttpClient: the one door to the network, so that tests can script it and secrets stay redacted.
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "devicelogin/export.hpp"
#include "devicelogin/result.hpp"
#include "devicelogin/secret.hpp"

namespace devicelogin {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// One request. The body may hold credentials, so it is a Secret.
struct HttpRequest {
  std::string method = "POST";
  std::string url;
  HttpHeaders headers;
  Secret body;
};

// One response. Bodies of token responses hold tokens, so the body is a Secret too.
struct DEVICELOGIN_API HttpResponse {
  int status = 0;
  HttpHeaders headers;  // names lower-cased
  Secret body;
  // The first header with this (case-insensitive) name, or empty.
  [[nodiscard]] std::string header(std::string_view name) const;
};

// Sends requests. Never follows redirects; fails with kNetwork on transport problems and returns
// every HTTP status (including 4xx/5xx) as a response.
class DEVICELOGIN_API HttpClient {
 public:
  virtual ~HttpClient() = default;
  [[nodiscard]] virtual Result<HttpResponse> send(const HttpRequest& request) = 0;
};

// Settings for the libcurl client.
struct HttpOptions {
  std::string ca_file;                   // extra CA bundle; SSL_CERT_FILE is honoured too
  long connect_timeout_ms = 10'000;
  long total_timeout_ms = 30'000;
  std::size_t max_response_bytes = 1 << 20;
  // When set, receives a redacted trace of every request and response, one line per call.
  std::function<void(std::string_view line)> trace;
};

// The libcurl-backed client: TLS verification always on, no redirects, size cap, timeouts, proxy
// from the environment, https-only except loopback (checked before anything is sent).
[[nodiscard]] DEVICELOGIN_API std::unique_ptr<HttpClient> make_curl_http_client(HttpOptions options);

// RFC 8252 §8.3 / issue policy: https everywhere, plain http only to loopback hosts
// (127.0.0.0/8, ::1, localhost). Returns kConfig naming `what` when `url` breaks the rule.
[[nodiscard]] DEVICELOGIN_API Result<void> check_url_policy(std::string_view url, std::string_view what);

// True when `url` parses and names a loopback host (127.0.0.0/8, ::1, localhost), whatever its
// scheme; false for anything else, unparsable URLs included.
[[nodiscard]] DEVICELOGIN_API bool is_loopback_url(std::string_view url);

}  // namespace devicelogin
