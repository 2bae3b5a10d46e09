// The libcurl-backed HttpClient. libcurl is included only under src/http/.
#include <curl/curl.h>
#include <string.h>  // explicit_bzero

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/encoding.hpp"
#include "core/redaction.hpp"
#include "devicelogin/advanced/error_builders.hpp"
#include "devicelogin/clock.hpp"
#include "devicelogin/http_client.hpp"
#include "devicelogin/sanitize.hpp"
#include "http/ca_bundle.hpp"
#include "http/curl_http_client_for_test.hpp"
#include "http/http_trace.hpp"
#include "http/url_policy.hpp"

#ifndef DEVICELOGIN_VERSION
#define DEVICELOGIN_VERSION "0.1.0"
#endif

namespace devicelogin::http {
namespace {

constexpr const char* kUserAgent = "devicelogin/" DEVICELOGIN_VERSION;
constexpr std::size_t kInitialBodyCapacity = 16 * 1024;

CURLcode global_init() {
  static std::once_flag once;
  static CURLcode result = CURLE_OK;
  std::call_once(once, [] { result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  return result;
}

// Frees a header list after overwriting its strings: Authorization values live there.
struct SlistDeleter {
  void operator()(curl_slist* list) const noexcept {
    for (curl_slist* item = list; item != nullptr; item = item->next) {
      if (item->data != nullptr) explicit_bzero(item->data, strlen(item->data));
    }
    curl_slist_free_all(list);
  }
};
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

std::string describe_size(std::size_t bytes) {
  constexpr std::size_t kKiB = 1024;
  constexpr std::size_t kMiB = kKiB * kKiB;
  if (bytes >= kMiB && bytes % kMiB == 0) return std::to_string(bytes / kMiB) + " MiB";
  if (bytes >= kKiB && bytes % kKiB == 0) return std::to_string(bytes / kKiB) + " KiB";
  return std::to_string(bytes) + " bytes";
}

bool is_token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool valid_header_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), is_token_char);
}

// CR, LF or NUL in a value would let it end the header and inject another.
bool valid_header_value(std::string_view value) {
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

bool valid_method(std::string_view method) {
  return !method.empty() && std::all_of(method.begin(), method.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

// The state of one transfer, shared with the libcurl callbacks.
struct Transfer {
  std::size_t max_bytes = 0;
  Secret body;  // its storage wipes every buffer it outgrows
  HttpHeaders headers;
  std::size_t header_bytes = 0;
  bool too_large = false;
  bool callback_failed = false;  // an exception (e.g. bad_alloc) was caught inside a callback
  HttpTrace* trace = nullptr;
  const Secret* request_body = nullptr;
  bool request_body_traced = false;

  Transfer() = default;
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;
};

// Callbacks are C functions called from inside libcurl: no exception may escape them.
size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const std::size_t bytes = size * count;
  if (transfer->body.size() + bytes > transfer->max_bytes) {
    transfer->too_large = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  try {
    transfer->body.append(std::string_view(data, bytes));
  } catch (...) {
    transfer->callback_failed = true;
    return 0;
  }
  return bytes;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const std::size_t bytes = size * count;
  transfer->header_bytes += bytes;
  if (transfer->header_bytes > transfer->max_bytes) {
    transfer->too_large = true;
    return 0;
  }
  try {
    std::string_view raw(data, bytes);
    if (raw.starts_with("HTTP/")) {
      transfer->headers.clear();  // a new response begins (after 1xx): keep only the final one
      return bytes;
    }
    if ((raw.starts_with(" ") || raw.starts_with("\t")) && !transfer->headers.empty()) {
      // obs-fold (RFC 9112 §5.2): a continuation of the previous header's value.
      transfer->headers.back().second += " ";
      transfer->headers.back().second += trim_http_whitespace(raw);
      return bytes;
    }
    std::string_view line = trim_http_whitespace(raw);
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return bytes;  // blank line or junk
    transfer->headers.emplace_back(core::ascii_lower(trim_http_whitespace(line.substr(0, colon))),
                                   std::string(trim_http_whitespace(line.substr(colon + 1))));
  } catch (...) {
    transfer->callback_failed = true;
    return 0;
  }
  return bytes;
}

int on_debug(CURL*, curl_infotype type, char* data, size_t size, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  if (transfer->trace == nullptr) return 0;
  try {
    std::string_view text(data, size);
    switch (type) {
      case CURLINFO_TEXT: transfer->trace->info(text); break;
      case CURLINFO_HEADER_OUT: transfer->trace->request_headers(text); break;
      case CURLINFO_HEADER_IN: transfer->trace->response_header(text); break;
      case CURLINFO_DATA_OUT:
        // libcurl may report the body in several pieces: show the whole body once, redacted as
        // one text, from our own copy.
        if (!transfer->request_body_traced && transfer->request_body != nullptr) {
          transfer->request_body_traced = true;
          transfer->trace->body(transfer->request_body->reveal(), true);
        }
        break;
      // Response bodies are traced whole after the transfer; TLS records are never traced.
      case CURLINFO_DATA_IN:
      case CURLINFO_SSL_DATA_IN:
      case CURLINFO_SSL_DATA_OUT:
      case CURLINFO_END:
        break;
    }
  } catch (...) {  // NOLINT(bugprone-empty-catch): tracing is best effort; a failing sink must not break the request
  }
  return 0;
}

int on_progress(void*, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return stop_requested() ? 1 : 0;  // Ctrl-C ends a slow request promptly
}

// Values that must never show in a trace even if a pattern misses them: the secret form fields of
// the request body (raw and encoded) and the values of credential headers.
std::vector<Secret> known_secrets(const HttpRequest& request) {
  std::vector<Secret> known;
  for (const auto& [name, value] : core::form_decode(request.body.reveal())) {
    if (!core::is_secret_field(name) || value.empty()) continue;
    known.emplace_back(value);
    std::string encoded = core::url_encode(value);
    if (encoded != value) known.emplace_back(std::move(encoded));
  }
  for (const auto& [name, value] : request.headers) {
    if (!is_traced_secret_header(name)) continue;
    known.emplace_back(value);
    auto space = value.find(' ');  // "Bearer xyz": the credential alone
    if (space != std::string::npos) known.emplace_back(trim_http_whitespace(std::string_view(value).substr(space + 1)));
  }
  // libcurl quotes the proxy variable it uses, credentials included, and a scheme-less setting
  // (`user:password@host`) is not a URL that redact_userinfo would recognise.
  for (const char* variable : {"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"}) {
    const char* setting = std::getenv(variable);
    if (setting == nullptr) continue;
    for (Secret& credential : proxy_credentials(setting)) known.push_back(std::move(credential));
  }
  return known;
}

class CurlHttpClient final : public HttpClient {
 public:
  explicit CurlHttpClient(HttpOptions options, std::vector<std::string> resolve_for_test = {})
      : options_(std::move(options)), resolve_for_test_(std::move(resolve_for_test)) {}
  ~CurlHttpClient() override {
    if (easy_ != nullptr) curl_easy_cleanup(easy_);
  }
  CurlHttpClient(const CurlHttpClient&) = delete;
  CurlHttpClient& operator=(const CurlHttpClient&) = delete;

  // Sends one request; requests on one client are serialised because they share one easy handle
  // (kept so that GETs without credentials, such as discovery and JWKS, reuse connections).
  [[nodiscard]] Result<HttpResponse> send(const HttpRequest& request) override;

 private:
  HttpOptions options_;
  std::string ca_bundle_;  // the base CA bundle plus options_.ca_file, read at the first https request
  std::vector<std::string> resolve_for_test_;  // CURLOPT_RESOLVE entries (tests only; empty otherwise)
  std::mutex mutex_;
  CURL* easy_ = nullptr;
};

Result<HttpResponse> CurlHttpClient::send(const HttpRequest& request) {
  // Policy first: nothing is resolved, connected or sent for a refused URL.
  auto checked = parse_checked_url(request.url, "request URL");
  if (!checked) return std::unexpected(std::move(checked.error()));
  if (!valid_method(request.method)) return fail(ErrorCode::kInternal, "invalid HTTP method");
  const bool is_get = request.method == "GET" || request.method == "HEAD";
  if (is_get && !request.body.empty()) {
    return fail(ErrorCode::kInternal, "a " + request.method + " request cannot carry a body");
  }

  // Request headers. Names and values are checked so that none can inject another header.
  SlistPtr header_list;
  bool has_accept = false;
  bool has_user_agent = false;
  auto add_header = [&](std::string line) {
    curl_slist* grown = curl_slist_append(header_list.get(), line.c_str());
    wipe_string(line);
    if (grown == nullptr) return false;
    (void)header_list.release();
    header_list.reset(grown);
    return true;
  };
  for (const auto& [name, value] : request.headers) {
    if (!valid_header_name(name) || !valid_header_value(value)) {
      return fail(ErrorCode::kInternal, "invalid request header " + sanitize_text(name));
    }
    std::string lower = core::ascii_lower(name);
    has_accept = has_accept || lower == "accept";
    has_user_agent = has_user_agent || lower == "user-agent";
    // "Name;" is curl's syntax for a header with an empty value ("Name:" would remove it).
    // Built in one buffer of the final size (the value may be a credential; add_header wipes it).
    std::string line;
    line.reserve(name.size() + 2 + value.size());
    line.append(name).append(value.empty() ? ";" : ": ").append(value);
    if (!add_header(std::move(line))) {
      return fail(ErrorCode::kInternal, "out of memory building request headers");
    }
  }
  if ((!has_accept && !add_header("Accept: application/json")) || !add_header("Expect:")) {
    return fail(ErrorCode::kInternal, "out of memory building request headers");
  }

  if (global_init() != CURLE_OK) return fail(ErrorCode::kInternal, "cannot initialise libcurl");
  std::lock_guard lock(mutex_);
  if (easy_ == nullptr) easy_ = curl_easy_init();
  if (easy_ == nullptr) return fail(ErrorCode::kInternal, "cannot initialise libcurl");

  Transfer transfer;
  transfer.max_bytes = options_.max_response_bytes;
  transfer.body.reserve(std::min(options_.max_response_bytes, kInitialBodyCapacity));
  transfer.request_body = &request.body;
  std::optional<HttpTrace> trace;
  if (options_.trace) {
    trace.emplace(options_.trace, known_secrets(request));
    transfer.trace = &*trace;
  }
  char error_buffer[CURL_ERROR_SIZE] = {};

  // Every option is set for every request on a freshly reset handle (curl_easy_reset keeps the
  // connection cache), so no setting leaks from one request into the next.
  curl_easy_reset(easy_);
  CURLcode configured = CURLE_OK;
  auto set = [&](CURLoption option, auto value) {
    if (configured == CURLE_OK) configured = curl_easy_setopt(easy_, option, value);
  };
  set(CURLOPT_CURLU, checked->handle.get());  // exactly the URL that passed the policy
  set(CURLOPT_PROTOCOLS_STR, "http,https");
  set(CURLOPT_FOLLOWLOCATION, 0L);  // a 3xx is returned to the caller, which treats it as an error
  set(CURLOPT_SSL_VERIFYPEER, 1L);
  set(CURLOPT_SSL_VERIFYHOST, 2L);
  set(CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  // SSL_CERT_FILE replaces the system bundle (its conventional meaning); --ca-file adds to
  // whichever of the two applies, so a corporate CA does not cost every public one.
  std::string ca_file = options_.ca_file;
  if (const char* from_env = std::getenv("SSL_CERT_FILE"); from_env != nullptr && *from_env != '\0') {
    set(CURLOPT_CAINFO, from_env);
    if (ca_file.empty()) ca_file = from_env;
  }
  curl_blob ca_blob{};
  if (!options_.ca_file.empty() && checked->scheme == "https") {
    if (ca_bundle_.empty()) {
      auto bundle = combined_ca_bundle(base_ca_bundle_path(), options_.ca_file);
      if (!bundle) return std::unexpected(bundle.error());
      ca_bundle_ = std::move(*bundle);
    }
    ca_blob = curl_blob{ca_bundle_.data(), ca_bundle_.size(), CURL_BLOB_NOCOPY};
    set(CURLOPT_CAINFO_BLOB, &ca_blob);
  }
  // Proxies come from http_proxy / https_proxy / all_proxy / no_proxy (libcurl's default). Plain
  // http is allowed only because loopback traffic never leaves the machine; a proxy would carry
  // it across the network unencrypted, so loopback requests never use one.
  if (checked->loopback) set(CURLOPT_PROXY, "");
  set(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
  if (options_.connect_timeout_ms > 0) set(CURLOPT_CONNECTTIMEOUT_MS, options_.connect_timeout_ms);
  if (options_.total_timeout_ms > 0) set(CURLOPT_TIMEOUT_MS, options_.total_timeout_ms);
  set(CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(options_.max_response_bytes));
  set(CURLOPT_NOSIGNAL, 1L);
  set(CURLOPT_NOPROGRESS, 0L);
  set(CURLOPT_XFERINFOFUNCTION, &on_progress);
  set(CURLOPT_WRITEFUNCTION, &on_body);
  set(CURLOPT_WRITEDATA, static_cast<void*>(&transfer));
  set(CURLOPT_HEADERFUNCTION, &on_header);
  set(CURLOPT_HEADERDATA, static_cast<void*>(&transfer));
  set(CURLOPT_HTTPHEADER, header_list.get());
  if (!has_user_agent) set(CURLOPT_USERAGENT, kUserAgent);
  set(CURLOPT_ERRORBUFFER, static_cast<char*>(error_buffer));
  if (request.method == "GET") {
    set(CURLOPT_HTTPGET, 1L);
  } else if (request.method == "HEAD") {
    set(CURLOPT_NOBODY, 1L);
  } else {
    if (request.method != "POST") set(CURLOPT_CUSTOMREQUEST, request.method.c_str());
    if (request.method == "POST" || !request.body.empty()) {
      // POSTFIELDS (not COPYPOSTFIELDS): libcurl reads the Secret in place, no extra copy.
      set(CURLOPT_POST, 1L);
      set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
      set(CURLOPT_POSTFIELDS, request.body.reveal().data());
    }
  }
  SlistPtr resolve_list;
#ifdef DEVICELOGIN_TEST_HOOKS
  for (const std::string& entry : resolve_for_test_) {
    curl_slist* grown = curl_slist_append(resolve_list.get(), entry.c_str());
    if (grown == nullptr) {
      curl_easy_reset(easy_);
      return fail(ErrorCode::kInternal, "out of memory building the resolve list");
    }
    (void)resolve_list.release();
    resolve_list.reset(grown);
  }
#endif
  if (resolve_list) set(CURLOPT_RESOLVE, resolve_list.get());
  // A credential request is never sent twice. libcurl re-sends a request by itself when a reused
  // connection dies before any answer ("Connection died, retrying a fresh connect",
  // Curl_retry_request; it has no switch to stop that before 8.16's CURLOPT_FORBID_RETRY_ON_REUSE),
  // and on HTTP/2 after a REFUSED_STREAM. A request that carries a credential (any method but
  // GET/HEAD: device authorization, token, refresh, revocation, client authentication; or a
  // credential header) therefore goes on a fresh HTTP/1.1 connection, closed after it: one attempt,
  // one send. Retrying is the caller's decision, under the protocol's rules (RFC 8628 §3.5 backoff;
  // RFC 9700 §4.14.2 for refresh tokens, which a server may revoke when it sees one twice).
  const bool carries_credential =
      !is_get || std::any_of(request.headers.begin(), request.headers.end(),
                             [](const auto& header) { return core::is_secret_header(header.first); });
  if (carries_credential) {
    set(CURLOPT_FRESH_CONNECT, 1L);
    set(CURLOPT_FORBID_REUSE, 1L);
    set(CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  }
  if (trace) {
    set(CURLOPT_DEBUGFUNCTION, &on_debug);
    set(CURLOPT_DEBUGDATA, static_cast<void*>(&transfer));
    set(CURLOPT_VERBOSE, 1L);
  }
  if (configured != CURLE_OK) {
    curl_easy_reset(easy_);
    return fail(ErrorCode::kInternal, std::string("cannot configure libcurl: ") + curl_easy_strerror(configured));
  }

  const CURLcode performed = curl_easy_perform(easy_);
  long status = 0;
  curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &status);
  // Drop every pointer into this call's locals (URL, body, header list, buffers) at once.
  curl_easy_reset(easy_);

  auto failed = [&](ErrorCode code, std::string message) -> Result<HttpResponse> {
    if (trace) trace->note("error: " + message);
    return fail(code, std::move(message));
  };
  const std::string& host = checked->authority;
  if (transfer.too_large || performed == CURLE_FILESIZE_EXCEEDED) {
    return failed(ErrorCode::kServer,
                  "response from " + host + " exceeds " + describe_size(options_.max_response_bytes));
  }
  if (transfer.callback_failed) return failed(ErrorCode::kInternal, "out of memory reading the response");
  if (performed == CURLE_ABORTED_BY_CALLBACK && stop_requested()) {
    return failed(ErrorCode::kCancelled, "cancelled");
  }
  if (performed != CURLE_OK) {
    // libcurl's error buffer says more than curl_easy_strerror ("SSL certificate problem: ...");
    // it never holds the URL's path or query, nor any body.
    std::string detail = sanitize_text(error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(performed));
    if (performed == CURLE_SSL_CACERT_BADFILE) {
      return failed(ErrorCode::kConfig, "cannot use the CA file " + sanitize_text(ca_file) + ": " + detail);
    }
    auto unreachable = failed(ErrorCode::kNetwork, "cannot reach " + host + ": " + detail);
    unreachable.error().remedy = Remedy::kTryAgainLater;
    return unreachable;
  }
  if (trace) {
    if (!transfer.body.empty()) trace->body(transfer.body.reveal(), false);
  }

  HttpResponse response;
  response.status = static_cast<int>(status);
  response.headers = std::move(transfer.headers);
  response.body = std::move(transfer.body);
  return response;
}

}  // namespace

#ifdef DEVICELOGIN_TEST_HOOKS
std::unique_ptr<HttpClient> make_curl_http_client_for_test(HttpOptions options, std::vector<std::string> resolve) {
  return std::make_unique<CurlHttpClient>(std::move(options), std::move(resolve));
}
#endif

}  // namespace devicelogin::http

namespace devicelogin {

std::unique_ptr<HttpClient> make_curl_http_client(HttpOptions options) {
  return std::make_unique<http::CurlHttpClient>(std::move(options));
}

}  // namespace devicelogin
