#include "devserver/server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <random>
#include <stop_token>
#include <thread>
#include <unordered_map>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <openssl/crypto.h>

#include "config.hpp"
#include "connection.hpp"
#include "core/encoding.hpp"
#include "jose.hpp"
#include "pages.hpp"
#include "state.hpp"

namespace devicelogin::devserver {

namespace {

using Clock = std::chrono::system_clock;
using json = nlohmann::json;

constexpr std::string_view kDeviceCodeGrant = "urn:ietf:params:oauth:grant-type:device_code";
// RFC 8628 §6.1: 20 consonants, no vowels (no words) and no easily confused characters.
constexpr std::string_view kUserCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ";
constexpr std::size_t kUserCodeLength = 8;  // 20^8 ≈ 2^34.5 combinations
constexpr std::size_t kDeviceCodeBytes = 32;  // RFC 8628 §5.2 wants >= 128 bits; we use 256
constexpr std::size_t kRefreshTokenBytes = 32;
constexpr std::size_t kMaxScopeLength = 1024;
constexpr std::size_t kMaxHeaders = 64;
constexpr auto kSessionTtl = std::chrono::minutes(15);
constexpr std::string_view kSessionCookie = "dl_session";
constexpr std::string_view kDefaultScope = "openid profile offline_access";

constexpr std::string_view kPagePolicy =
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";

struct OAuthFailure {
  int status = 400;
  std::string error;
  std::string description;
  bool basic_challenge = false;
};
template <class T>
using OAuthResult = std::expected<T, OAuthFailure>;

std::unexpected<OAuthFailure> oauth_fail(int status, std::string error, std::string description,
                                         bool basic_challenge = false) {
  return std::unexpected(OAuthFailure{status, std::move(error), std::move(description), basic_challenge});
}

// The parameters of a form body (RFC 6749 §3.2: the token endpoint takes form bodies).
class Form {
 public:
  explicit Form(std::string_view body) : fields_(form_decode(body)) {}
  ~Form() {
    for (auto& [name, value] : fields_) wipe_string(value);
  }
  Form(const Form&) = delete;
  Form& operator=(const Form&) = delete;

  // The value of `name`, empty when absent.
  [[nodiscard]] std::string_view get(std::string_view name) const {
    for (const auto& [key, value] : fields_) {
      if (key == name) return value;
    }
    return {};
  }
  [[nodiscard]] bool has(std::string_view name) const {
    for (const auto& field : fields_) {
      if (field.first == name) return true;
    }
    return false;
  }
  // RFC 6749 §3.1: parameters must not be included more than once.
  [[nodiscard]] bool has_repeated_parameter() const {
    for (std::size_t i = 0; i < fields_.size(); ++i) {
      for (std::size_t j = i + 1; j < fields_.size(); ++j) {
        if (fields_[i].first == fields_[j].first) return true;
      }
    }
    return false;
  }

 private:
  FormFields fields_;
};

void set_json(httplib::Response& res, int status, std::string body) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_header("Pragma", "no-cache");
  res.set_content(std::move(body), "application/json");
}

void set_oauth_error(httplib::Response& res, const OAuthFailure& failure) {
  json body = {{"error", failure.error}};
  if (!failure.description.empty()) body["error_description"] = failure.description;
  if (failure.basic_challenge) res.set_header("WWW-Authenticate", "Basic realm=\"devicelogin\"");
  set_json(res, failure.status, dump_json(body));
}

void set_page(httplib::Response& res, int status, std::string html) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_header("Content-Security-Policy", std::string(kPagePolicy));
  // Clickjacking the approval page is a real device-flow attack: never render in a frame.
  res.set_header("X-Frame-Options", "DENY");
  res.set_header("X-Content-Type-Options", "nosniff");
  // same-origin, not no-referrer: the user code in the URL still never leaks to other sites, and
  // browsers keep sending a real Origin on our own form posts (with no-referrer Chromium sends
  // `Origin: null`, which the CSRF check rightly refuses).
  res.set_header("Referrer-Policy", "same-origin");
  res.set_content(std::move(html), "text/html; charset=utf-8");
}

bool is_form_body(const httplib::Request& req) {
  std::string type = ascii_lower(req.get_header_value("Content-Type"));
  return type.starts_with("application/x-www-form-urlencoded");
}

// Standard base64 (RFC 4648 §4), as HTTP Basic uses it.
std::optional<std::string> base64_decode(std::string_view text) {
  std::string url(text);
  for (char& c : url) {
    if (c == '+') c = '-';
    else if (c == '/') c = '_';
    else if (c == '-' || c == '_') return std::nullopt;
  }
  return base64url_decode(url);
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::optional<std::string> canonical_user_code(std::string_view input) {
  // RFC 8628 §6.1: compare case-insensitively and ignore the punctuation we add for display.
  std::string code;
  for (char c : input) {
    if (c == '-' || c == ' ' || c == '\t') continue;
    char upper = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (kUserCodeAlphabet.find(upper) == std::string_view::npos) return std::nullopt;
    code += upper;
    if (code.size() > kUserCodeLength) return std::nullopt;
  }
  if (code.size() != kUserCodeLength) return std::nullopt;
  return code;
}

Result<std::string> generate_user_code() {
  std::string code;
  while (code.size() < kUserCodeLength) {
    auto bytes = random_bytes(16);
    if (!bytes) return std::unexpected(bytes.error());
    for (unsigned char byte : *bytes) {
      // Rejection sampling keeps every letter equally likely (240 = 12 * 20).
      if (byte < 240 && code.size() < kUserCodeLength) code += kUserCodeAlphabet[byte % 20];
    }
  }
  return code;
}

std::string cookie_value(const httplib::Request& req, std::string_view name) {
  std::string header = req.get_header_value("Cookie");
  std::string_view rest = header;
  while (!rest.empty()) {
    std::size_t end = rest.find(';');
    std::string_view item = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    if (item.size() > name.size() && item.starts_with(name) && item[name.size()] == '=') {
      return std::string(item.substr(name.size() + 1));
    }
  }
  return {};
}

// IMF-fixdate (RFC 9110 §5.6.7), e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
std::string http_date(Clock::time_point t) {
  const std::time_t seconds = Clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday], tm.tm_mday,
                kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buffer;
}

long long unix_seconds(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::string join_scope(const std::vector<std::string>& tokens) {
  std::string out;
  for (const auto& token : tokens) {
    if (!out.empty()) out += ' ';
    out += token;
  }
  return out;
}

double uniform_draw() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
}

bool chance(double probability) { return probability > 0 && uniform_draw() < probability; }

}  // namespace

bool is_loopback_host(std::string_view host) {
  if (host == "localhost") return true;
  std::string text(host);
  if (text.size() > 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

struct Server::Impl {
  ServerOptions options;
  std::string issuer;
  int port = 0;
  SigningKey key;
  std::unordered_map<std::string, ClientSpec> clients;
  std::unordered_map<std::string, UserSpec> users;
  std::string first_user;
  std::unique_ptr<State> state;
  BoundedHttpServer http;
  std::atomic<int> listen_fd{-1};
  std::thread listener;
  std::jthread sweeper;
  std::mutex sweeper_mutex;
  std::condition_variable_any sweeper_wakeup;
  std::mutex stop_mutex;
  bool stopped = false;
  std::string discovery_body;
  std::string jwks_body;
  std::string verification_uri;
  std::atomic<int> polls_seen{0};
  std::atomic<int> refreshes_seen{0};

  // A body may take twice its limit on the wire (chunk framing) plus 16 KiB before the
  // connection loop cuts it; httplib answers 413 from Content-Length, bounded() below from the
  // decoded size.
  explicit Impl(ServerOptions opts)
      : options(std::move(opts)),
        http(options.max_header_bytes, 2 * options.max_body_bytes + 16 * 1024,
             std::chrono::milliseconds(options.max_request_ms)) {}

  void log(const std::string& line) const {
    if (options.log) options.log(line);
  }

  std::string client_name(const std::string& client_id) const {
    auto it = clients.find(client_id);
    if (it == clients.end() || it->second.name.empty()) return client_id;
    return it->second.name;
  }

  // ---- faults -------------------------------------------------------------------------------

  // Applies the latency, drop and failure knobs; true when the request was answered by a fault.
  bool inject_faults(httplib::Response& res) {
    if (options.latency_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(options.latency_ms));
    if (chance(options.drop_rate)) {
      BoundedHttpServer::drop_current_connection();
      res.set_header("Connection", "close");
      set_oauth_error(res, {500, "server_error", "connection dropped", false});
      return true;
    }
    if (chance(options.fail_rate_500)) {
      set_oauth_error(res, {500, "server_error", "injected failure", false});
      return true;
    }
    if (chance(options.fail_rate_503)) {
      res.set_header("Retry-After", "1");
      set_oauth_error(res, {503, "temporarily_unavailable", "injected failure", false});
      return true;
    }
    return false;
  }

  // ---- client authentication (RFC 6749 §2.3.1) ----------------------------------------------

  OAuthResult<const ClientSpec*> authenticate(const httplib::Request& req, const Form& form,
                                              bool confidential_only) const {
    std::string header = req.get_header_value("Authorization");
    std::string basic_id;
    Secret basic_secret;
    bool used_basic = false;
    if (header.size() > 6 && ascii_lower(header.substr(0, 6)) == "basic ") {
      auto decoded = base64_decode(std::string_view(header).substr(6));
      std::size_t colon = decoded ? decoded->find(':') : std::string::npos;
      if (!decoded || colon == std::string::npos) {
        return oauth_fail(401, "invalid_client", "malformed Basic credentials", true);
      }
      used_basic = true;
      // RFC 6749 §2.3.1: both parts are form-urlencoded before being joined with ':'.
      basic_id = url_decode(std::string_view(*decoded).substr(0, colon));
      basic_secret = Secret(url_decode(std::string_view(*decoded).substr(colon + 1)));
      wipe_string(*decoded);
    }
    if (used_basic && form.has("client_secret")) {
      // RFC 6749 §2.3: a client must not use more than one authentication method per request.
      return oauth_fail(400, "invalid_request", "client credentials sent both in the header and the body");
    }
    if (used_basic && form.has("client_id") && form.get("client_id") != basic_id) {
      return oauth_fail(400, "invalid_request", "client_id differs from the Basic credentials");
    }
    std::string client_id = used_basic ? basic_id : std::string(form.get("client_id"));
    if (client_id.empty()) return oauth_fail(401, "invalid_client", "client_id is required", used_basic);
    auto it = clients.find(client_id);
    if (it == clients.end()) return oauth_fail(401, "invalid_client", "unknown client", used_basic);
    const ClientSpec& client = it->second;
    if (client.client_secret.empty()) {
      if (confidential_only) {
        return oauth_fail(401, "invalid_client", "this endpoint is for confidential clients", used_basic);
      }
      return &client;
    }
    Secret presented = used_basic ? std::move(basic_secret) : Secret(form.get("client_secret"));
    if (presented.empty()) return oauth_fail(401, "invalid_client", "client authentication required", used_basic);
    if (!presented.equals(client.client_secret)) {
      return oauth_fail(401, "invalid_client", "client authentication failed", used_basic);
    }
    return &client;
  }

  // Parses the body and authenticates the client, answering the error itself when either fails.
  const ClientSpec* begin_client_request(const httplib::Request& req, httplib::Response& res,
                                         const Form& form, bool confidential_only) const {
    if (!is_form_body(req)) {
      set_oauth_error(res, {400, "invalid_request", "expected an application/x-www-form-urlencoded body", false});
      return nullptr;
    }
    if (form.has_repeated_parameter()) {
      set_oauth_error(res, {400, "invalid_request", "a parameter is repeated", false});
      return nullptr;
    }
    auto client = authenticate(req, form, confidential_only);
    if (!client) {
      set_oauth_error(res, client.error());
      return nullptr;
    }
    return *client;
  }

  // ---- device authorization (RFC 8628 §3.1-3.2) ---------------------------------------------

  OAuthResult<std::string> resolve_scope(const ClientSpec& client, std::string_view requested) const {
    if (requested.size() > kMaxScopeLength) return oauth_fail(400, "invalid_scope", "scope is too long");
    std::vector<std::string> tokens = split_scope(requested);
    if (tokens.empty()) {
      return client.scopes.empty() ? std::string(kDefaultScope) : join_scope(client.scopes);
    }
    std::vector<std::string> unique;
    for (auto& token : tokens) {
      if (!valid_scope_token(token)) return oauth_fail(400, "invalid_scope", "malformed scope");
      if (!client.scopes.empty() &&
          std::find(client.scopes.begin(), client.scopes.end(), token) == client.scopes.end()) {
        return oauth_fail(400, "invalid_scope", "scope not allowed for this client: " + token);
      }
      if (std::find(unique.begin(), unique.end(), token) == unique.end()) unique.push_back(token);
    }
    return join_scope(unique);
  }

  void handle_device_authorization(const httplib::Request& req, httplib::Response& res) {
    if (inject_faults(res)) return;
    Form form(req.body);
    const ClientSpec* client = begin_client_request(req, res, form, false);
    if (client == nullptr) return;
    auto scope = resolve_scope(*client, form.get("scope"));
    if (!scope) return set_oauth_error(res, scope.error());

    auto device_code = random_token(kDeviceCodeBytes);
    if (!device_code) return set_oauth_error(res, {500, "server_error", "random generator failed", false});
    std::string device_key = sha256(*device_code);
    Clock::time_point now = Clock::now();
    for (int attempt = 0; attempt < 8; ++attempt) {
      auto user_code = generate_user_code();
      if (!user_code) return set_oauth_error(res, {500, "server_error", "random generator failed", false});
      DeviceGrant grant;
      grant.user_code = *user_code;
      grant.client_id = client->client_id;
      grant.scope = *scope;
      grant.created = now;
      grant.expires = now + std::chrono::seconds(options.code_ttl);
      grant.interval = options.interval;
      switch (state->add_device_grant(device_key, std::move(grant), now)) {
        case State::AddResult::kFull:
          res.set_header("Retry-After", "5");
          return set_oauth_error(res, {503, "temporarily_unavailable", "too many outstanding device codes", false});
        case State::AddResult::kUserCodeTaken:
          continue;
        case State::AddResult::kAdded: {
          std::string shown = display_user_code(*user_code);
          json body = {{"device_code", *device_code},
                       {"user_code", shown},
                       {"verification_uri", verification_uri},
                       {"verification_uri_complete", verification_uri + "?user_code=" + shown},
                       {"expires_in", options.code_ttl},
                       {"interval", options.interval}};
          wipe_string(*device_code);
          set_json(res, 200, dump_json(body));
          if (options.log) log("device code issued: user code " + shown + " for " + client->client_id);
          return;
        }
      }
    }
    set_oauth_error(res, {503, "temporarily_unavailable", "could not allocate a user code", false});
  }

  // ---- token endpoint (RFC 6749 §5, RFC 8628 §3.4-3.5) --------------------------------------

  // --hang-up-polls / --hang-up-refreshes: the request has been read whole (handlers run after
  // the body is in); the connection is closed with no answer, as when a server dies mid-request.
  bool hang_up(std::atomic<int>& seen, int limit, std::string_view what, httplib::Response& res) {
    if (limit <= 0) return false;
    const int number = ++seen;
    if (number > limit) return false;
    BoundedHttpServer::drop_current_connection();
    res.set_header("Connection", "close");
    set_oauth_error(res, {500, "server_error", "connection dropped", false});
    log("hung up without an answer on " + std::string(what) + " " + std::to_string(number) + " of " +
        std::to_string(limit));
    return true;
  }

  void handle_token(const httplib::Request& req, httplib::Response& res) {
    if (inject_faults(res)) return;
    Form form(req.body);
    if (form.get("grant_type") == kDeviceCodeGrant && hang_up(polls_seen, options.hang_up_polls, "device code poll", res)) return;
    if (form.get("grant_type") == "refresh_token" && hang_up(refreshes_seen, options.hang_up_refreshes, "refresh", res)) return;
    const ClientSpec* client = begin_client_request(req, res, form, false);
    if (client == nullptr) return;
    std::string_view grant_type = form.get("grant_type");
    if (grant_type == kDeviceCodeGrant) return device_code_grant(res, form, *client);
    if (grant_type == "refresh_token") return refresh_token_grant(res, form, *client);
    if (grant_type.empty()) {
      return set_oauth_error(res, {400, "invalid_request", "grant_type is required", false});
    }
    set_oauth_error(res, {400, "unsupported_grant_type", "supported: device_code, refresh_token", false});
  }

  void device_code_grant(httplib::Response& res, const Form& form, const ClientSpec& client) {
    std::string_view device_code = form.get("device_code");
    if (device_code.empty()) {
      return set_oauth_error(res, {400, "invalid_request", "device_code is required", false});
    }
    Clock::time_point now = Clock::now();
    PollOutcome outcome = state->poll(sha256(device_code), client.client_id, now);
    using Kind = PollOutcome::Kind;
    switch (outcome.kind) {
      // The pending answers are the hot path under load: constant bodies, no JSON building.
      case Kind::kPending:
        return set_json(res, 400, R"({"error":"authorization_pending"})");
      case Kind::kSlowDown:
        return set_json(res, 400, R"({"error":"slow_down"})");
      case Kind::kDenied:
        return set_json(res, 400, R"({"error":"access_denied","error_description":"the user denied the request"})");
      case Kind::kExpired:
        return set_json(res, 400, R"({"error":"expired_token","error_description":"the device code has expired"})");
      case Kind::kInvalidGrant:
        return set_oauth_error(res, {400, "invalid_grant", "unknown, already used or foreign device code", false});
      case Kind::kFull:
        res.set_header("Retry-After", "5");
        return set_oauth_error(res, {503, "temporarily_unavailable", "token store is full", false});
      case Kind::kApproved:
        break;
    }
    std::uint64_t grant_id = state->create_grant(outcome.client_id, outcome.username, outcome.scope,
                                                 outcome.auth_time);
    TokenView view;
    view.grant_id = grant_id;
    view.client_id = outcome.client_id;
    view.username = outcome.username;
    view.scope = outcome.scope;
    view.auth_time = outcome.auth_time;
    issue_tokens(res, view, now);
    log("tokens issued to " + outcome.client_id + " for " + outcome.username);
  }

  void refresh_token_grant(httplib::Response& res, const Form& form, const ClientSpec& client) {
    std::string_view refresh_token = form.get("refresh_token");
    if (refresh_token.empty()) {
      return set_oauth_error(res, {400, "invalid_request", "refresh_token is required", false});
    }
    std::string_view scope = form.get("scope");
    Clock::time_point now = Clock::now();
    RefreshOutcome outcome = state->refresh(sha256(refresh_token), client.client_id, scope, now);
    using Kind = RefreshOutcome::Kind;
    switch (outcome.kind) {
      case Kind::kInvalidGrant:
        return set_oauth_error(res, {400, "invalid_grant", "unknown, expired or revoked refresh token", false});
      case Kind::kReuseDetected:
        log("refresh token reuse detected for " + client.client_id + ": grant revoked");
        return set_oauth_error(res, {400, "invalid_grant", "refresh token reused; the grant is revoked", false});
      case Kind::kInvalidScope:
        return set_oauth_error(res, {400, "invalid_scope", "scope exceeds the original grant", false});
      case Kind::kFull:
        res.set_header("Retry-After", "5");
        return set_oauth_error(res, {503, "temporarily_unavailable", "token store is full", false});
      case Kind::kOk:
        break;
    }
    issue_tokens(res, outcome.grant, now);
    log("tokens refreshed for " + client.client_id);
  }

  // Mints an access token (RFC 9068 JWT), a refresh token (always: friendliest for CLIs) and,
  // with `openid`, an ID token; records them under `view.grant_id` and answers (RFC 6749 §5.1).
  void issue_tokens(httplib::Response& res, const TokenView& view, Clock::time_point now) {
    auto jti = random_token(16);
    auto refresh_token = random_token(kRefreshTokenBytes);
    if (!jti || !refresh_token) {
      return set_oauth_error(res, {500, "server_error", "random generator failed", false});
    }
    const long long iat = unix_seconds(now);
    const long long exp = iat + options.access_token_ttl;
    json access_claims = {{"iss", issuer},        {"sub", view.username},  {"aud", issuer},
                          {"exp", exp},           {"iat", iat},            {"jti", *jti},
                          {"client_id", view.client_id}, {"scope", view.scope},
                          {"auth_time", unix_seconds(view.auth_time)}};
    // RFC 9068 §2.1: typ "at+jwt" tells resource servers this is an access token.
    auto access_token = key.sign("at+jwt", access_claims);
    if (!access_token) return set_oauth_error(res, {500, "server_error", "signing failed", false});

    json body = {{"access_token", *access_token},
                 {"token_type", "Bearer"},
                 {"expires_in", options.access_token_ttl},
                 {"refresh_token", *refresh_token},
                 {"scope", view.scope}};
    if (options.omit_expires_in) body.erase("expires_in");
    if (scope_has(view.scope, "openid")) {
      auto user = users.find(view.username);
      std::string name = user != users.end() && !user->second.name.empty() ? user->second.name : view.username;
      json id_claims = {{"iss", issuer},
                        {"sub", view.username},
                        {"aud", view.client_id},
                        {"exp", exp},
                        {"iat", iat},
                        {"auth_time", unix_seconds(view.auth_time)},
                        {"name", name},
                        {"preferred_username", view.username}};
      auto id_token = key.sign("JWT", id_claims);
      if (!id_token) return set_oauth_error(res, {500, "server_error", "signing failed", false});
      body["id_token"] = *id_token;
    }
    state->add_token(sha256(*access_token), TokenKind::kAccess, view.grant_id, *jti, now,
                     now + std::chrono::seconds(options.access_token_ttl));
    state->add_token(sha256(*refresh_token), TokenKind::kRefresh, view.grant_id, {}, now,
                     now + std::chrono::seconds(options.refresh_token_ttl));
    set_json(res, 200, dump_json(body));
    wipe_string(*refresh_token);
    wipe_string(*access_token);
  }

  // ---- revocation (RFC 7009), introspection (RFC 7662), userinfo, discovery, JWKS ------------

  void handle_revoke(const httplib::Request& req, httplib::Response& res) {
    Form form(req.body);
    const ClientSpec* client = begin_client_request(req, res, form, false);
    if (client == nullptr) return;
    std::string_view token = form.get("token");
    if (token.empty()) return set_oauth_error(res, {400, "invalid_request", "token is required", false});
    // RFC 7009 §2.2: 200 whether or not the token was known (and the hint is only a hint). A
    // token of another client is left alone but answered the same, so this is no token oracle.
    if (state->revoke(sha256(token), client->client_id)) log("token revoked by " + client->client_id);
    res.status = 200;
    res.set_header("Cache-Control", "no-store");
  }

  void handle_introspect(const httplib::Request& req, httplib::Response& res) {
    Form form(req.body);
    // RFC 7662 §2.1: the endpoint is protected; we accept confidential clients only.
    const ClientSpec* client = begin_client_request(req, res, form, true);
    if (client == nullptr) return;
    std::string_view token = form.get("token");
    if (token.empty()) return set_oauth_error(res, {400, "invalid_request", "token is required", false});
    auto view = state->lookup(sha256(token), Clock::now());
    if (!view) return set_json(res, 200, R"({"active":false})");
    json body = {{"active", true},
                 {"scope", view->scope},
                 {"client_id", view->client_id},
                 {"username", view->username},
                 {"sub", view->username},
                 {"iss", issuer},
                 {"iat", unix_seconds(view->issued)},
                 {"exp", unix_seconds(view->expires)}};
    if (view->kind == TokenKind::kAccess) {
      body["token_type"] = "Bearer";
      body["aud"] = issuer;
      body["jti"] = view->jti;
    } else {
      body["token_type"] = "refresh_token";
    }
    set_json(res, 200, dump_json(body));
  }

  void handle_userinfo(const httplib::Request& req, httplib::Response& res) {
    std::string header = req.get_header_value("Authorization");
    // RFC 6750 §3: no credentials -> a bare challenge; bad ones -> error="invalid_token".
    if (header.size() <= 7 || ascii_lower(header.substr(0, 7)) != "bearer ") {
      res.set_header("WWW-Authenticate", "Bearer realm=\"devicelogin\"");
      return set_oauth_error(res, {401, "invalid_request", "a Bearer access token is required", false});
    }
    auto view = state->lookup(sha256(std::string_view(header).substr(7)), Clock::now());
    wipe_string(header);
    if (!view || view->kind != TokenKind::kAccess) {
      res.set_header("WWW-Authenticate", "Bearer realm=\"devicelogin\", error=\"invalid_token\"");
      return set_oauth_error(res, {401, "invalid_token", "the access token is invalid or expired", false});
    }
    auto user = users.find(view->username);
    std::string name = user != users.end() && !user->second.name.empty() ? user->second.name : view->username;
    set_json(res, 200, dump_json(json{{"sub", view->username}, {"name", name},
                                      {"preferred_username", view->username}}));
  }

  void build_documents() {
    verification_uri = issuer + "/device";
    json discovery = {
        {"issuer", issuer},
        {"device_authorization_endpoint", issuer + "/device_authorization"},
        {"token_endpoint", issuer + "/token"},
        {"revocation_endpoint", issuer + "/revoke"},
        {"introspection_endpoint", issuer + "/introspect"},
        {"userinfo_endpoint", issuer + "/userinfo"},
        {"jwks_uri", issuer + "/jwks"},
        {"grant_types_supported", {kDeviceCodeGrant, "refresh_token"}},
        // RFC 8414 §2 requires the member; there is no authorization endpoint, so it is empty.
        {"response_types_supported", json::array()},
        {"scopes_supported", {"openid", "profile", "offline_access"}},
        {"subject_types_supported", {"public"}},
        {"id_token_signing_alg_values_supported", {"ES256"}},
        {"token_endpoint_auth_methods_supported", {"none", "client_secret_basic", "client_secret_post"}},
        {"revocation_endpoint_auth_methods_supported",
         {"none", "client_secret_basic", "client_secret_post"}},
        {"introspection_endpoint_auth_methods_supported", {"client_secret_basic", "client_secret_post"}},
        {"claims_supported", {"sub", "name", "preferred_username", "iss", "aud", "exp", "iat", "auth_time"}},
    };
    discovery_body = dump_json(discovery);
    jwks_body = dump_json(json{{"keys", json::array({key.public_jwk()})}});
  }

  // ---- approval page ------------------------------------------------------------------------

  struct PageSession {
    std::string key;
    BrowserSession data;
  };

  std::optional<PageSession> find_session(const httplib::Request& req, Clock::time_point now) {
    std::string cookie = cookie_value(req, kSessionCookie);
    if (cookie.empty() || cookie.size() > 128) return std::nullopt;
    std::string session_key = sha256(cookie);
    auto session = state->session(session_key, now);
    if (!session) return std::nullopt;
    return PageSession{std::move(session_key), std::move(*session)};
  }

  std::optional<PageSession> ensure_session(const httplib::Request& req, httplib::Response& res,
                                            Clock::time_point now) {
    if (auto existing = find_session(req, now)) return existing;
    auto cookie = random_token(32);
    auto csrf = random_token(32);
    if (!cookie || !csrf) return std::nullopt;
    PageSession session{sha256(*cookie), BrowserSession{*csrf, {}, {}, now + kSessionTtl}};
    state->put_session(session.key, session.data);
    res.set_header("Set-Cookie", std::string(kSessionCookie) + "=" + *cookie +
                                     "; Path=/device; HttpOnly; SameSite=Strict");
    return session;
  }

  // The session of a POST whose CSRF token and Origin check out; answers 403 itself otherwise.
  std::optional<PageSession> checked_post(const httplib::Request& req, httplib::Response& res,
                                          const Form& form, Clock::time_point now) {
    std::string origin = req.get_header_value("Origin");
    std::string host = req.get_header_value("Host");
    // A cross-site form post carries its own Origin; a same-origin one names our Host.
    bool origin_ok = origin.empty() || origin == "http://" + host || origin == issuer;
    auto session = find_session(req, now);
    if (!origin_ok || !session || form.has_repeated_parameter() ||
        !constant_time_equal(form.get("csrf"), session->data.csrf)) {
      set_page(res, 403,
               message_page("Please start again",
                            "This form has expired or did not come from this page. Open the "
                            "link from your device again."));
      return std::nullopt;
    }
    return session;
  }

  void handle_device_page(const httplib::Request& req, httplib::Response& res) {
    Clock::time_point now = Clock::now();
    auto session = ensure_session(req, res, now);
    if (!session) return set_page(res, 500, message_page("Server error", "Could not start a session."));
    std::string prefill = req.get_param_value("user_code");
    if (prefill.size() > 32) prefill.clear();
    set_page(res, 200, enter_code_page(session->data.csrf, prefill, ""));
  }

  void handle_code_submit(const httplib::Request& req, httplib::Response& res) {
    Clock::time_point now = Clock::now();
    Form form(req.body);
    auto session = checked_post(req, res, form, now);
    if (!session) return;
    std::string limiter_key = "code " + req.remote_addr;
    // RFC 8628 §5.1: user codes are short, so wrong guesses must be rate-limited.
    if (state->rate_limited(limiter_key, now)) {
      res.set_header("Retry-After", "60");
      return set_page(res, 429, message_page("Too many attempts",
                                             "Too many wrong codes. Wait a minute, then try again."));
    }
    auto code = canonical_user_code(form.get("user_code"));
    auto grant = code ? state->pending_grant(*code, now) : std::nullopt;
    if (!grant) {
      state->record_failure(limiter_key, now);
      return set_page(res, 400, enter_code_page(session->data.csrf, form.get("user_code"),
                                                "That code is not valid or has expired. Check the "
                                                "code shown on your device."));
    }
    session->data.user_code = *code;
    session->data.expires = now + kSessionTtl;
    state->put_session(session->key, session->data);
    if (!session->data.username.empty() && users.contains(session->data.username)) {
      return set_page(res, 200, consent(session->data, *grant));
    }
    set_page(res, 200, sign_in_page(session->data.csrf, display_user_code(*code),
                                    client_name(grant->client_id), ""));
  }

  std::string consent(const BrowserSession& session, const DeviceGrant& grant) const {
    return consent_page(session.csrf, display_user_code(grant.user_code), client_name(grant.client_id),
                        grant.client_id, split_scope(grant.scope), session.username);
  }

  void handle_sign_in(const httplib::Request& req, httplib::Response& res) {
    Clock::time_point now = Clock::now();
    Form form(req.body);
    auto session = checked_post(req, res, form, now);
    if (!session) return;
    auto grant = session->data.user_code.empty() ? std::nullopt
                                                 : state->pending_grant(session->data.user_code, now);
    if (!grant) {
      return set_page(res, 400, message_page("Code no longer valid",
                                             "This code has expired or was already used. Start "
                                             "the sign-in on your device again."));
    }
    std::string limiter_key = "signin " + req.remote_addr;
    if (state->rate_limited(limiter_key, now)) {
      res.set_header("Retry-After", "60");
      return set_page(res, 429, message_page("Too many attempts",
                                             "Too many failed sign-ins. Wait a minute, then try again."));
    }
    std::string username(form.get("username"));
    auto user = users.find(username);
    Secret password(form.get("password"));
    // Compare against something even for unknown users, so timing does not reveal usernames.
    static const Secret kNoPassword(std::string_view("\x01no-such-user"));
    bool ok = false;
    if (user != users.end()) {
      ok = password.equals(user->second.password);
    } else {
      (void)password.equals(kNoPassword);
    }
    if (!ok) {
      state->record_failure(limiter_key, now);
      return set_page(res, 400, sign_in_page(session->data.csrf, display_user_code(grant->user_code),
                                             client_name(grant->client_id),
                                             "Wrong username or password."));
    }
    session->data.username = username;
    session->data.expires = now + kSessionTtl;
    state->put_session(session->key, session->data);
    set_page(res, 200, consent(session->data, *grant));
  }

  void handle_decision(const httplib::Request& req, httplib::Response& res) {
    Clock::time_point now = Clock::now();
    Form form(req.body);
    auto session = checked_post(req, res, form, now);
    if (!session) return;
    std::string_view decision = form.get("decision");
    if (session->data.user_code.empty() || session->data.username.empty() ||
        (decision != "approve" && decision != "deny")) {
      return set_page(res, 400, message_page("Please start again", "Enter the code and sign in first."));
    }
    auto grant = state->pending_grant(session->data.user_code, now);
    bool approve = decision == "approve";
    if (!grant || !state->decide(session->data.user_code, session->data.username, approve, now)) {
      return set_page(res, 400, message_page("Code no longer valid",
                                             "This code has expired or was already used. Start "
                                             "the sign-in on your device again."));
    }
    std::string shown = display_user_code(session->data.user_code);
    session->data.user_code.clear();
    state->put_session(session->key, session->data);
    log(session->data.username + (approve ? " approved " : " denied ") + shown + " for " + grant->client_id);
    set_page(res, 200, result_page(approve, client_name(grant->client_id)));
  }

  // ---- wiring -------------------------------------------------------------------------------

  // cpp-httplib 0.11 checks the body limit against Content-Length only: a chunked body reaches
  // the handlers at up to the connection loop's wire limit (twice the limit plus 16 KiB). Every
  // handler goes through this check of the decoded size first.
  template <class Handler>
  auto bounded(Handler handler) {
    return [this, handler](const httplib::Request& req, httplib::Response& res) {
      if (req.body.size() > options.max_body_bytes) {
        BoundedHttpServer::close_after_answer(res);
        const CutAnswer too_large = cut_answer_for(Overflow::kBody);
        return set_oauth_error(res, {too_large.status, "invalid_request", std::string(too_large.description), false});
      }
      handler(req, res);
    };
  }

  void install_routes() {
    http.set_tcp_nodelay(true);
    const int threads = options.threads;
    http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
    http.set_keep_alive_max_count(1'000'000);
    // Short by default, so that stop() is not held up by an idle keep-alive connection for long.
    http.set_keep_alive_timeout(options.keep_alive_seconds);
    http.set_read_timeout(5, 0);
    http.set_write_timeout(5, 0);
    http.set_payload_max_length(options.max_body_bytes);
    http.set_socket_options([this](int sock) {
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
      listen_fd.store(sock);
    });
    http.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
      if (req.headers.size() > kMaxHeaders) {
        BoundedHttpServer::close_after_answer(res);  // a body, if any, is unread
        set_oauth_error(res, {431, "invalid_request", "too many header fields", false});
        return httplib::Server::HandlerResponse::Handled;
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });
    http.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
      // A request cut at a byte budget (connection.hpp) reaches here as httplib's 400.
      if (Overflow cut = BoundedHttpServer::overflow(); cut != Overflow::kNone) {
        BoundedHttpServer::close_after_answer(res);
        const CutAnswer answer = cut_answer_for(cut);
        set_oauth_error(res, {answer.status, "invalid_request", std::string(answer.description), false});
        return httplib::Server::HandlerResponse::Handled;
      }
      if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
      std::string description = res.status == 413   ? "request body too large"
                                : res.status == 404 ? "no such endpoint"
                                : res.status == 405 ? "method not allowed"
                                                    : "bad request";
      set_oauth_error(res, {res.status, res.status == 404 ? "not_found" : "invalid_request", description, false});
      return httplib::Server::HandlerResponse::Handled;
    }));
    http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
      set_oauth_error(res, {500, "server_error", "internal error", false});
    });
    // RFC 9110 §6.6.1: an origin server with a clock sends Date; clients learn its time from it.
    http.set_post_routing_handler([](const httplib::Request&, httplib::Response& res) {
      res.set_header("Date", http_date(Clock::now()));
    });

    // Hot paths first: httplib tries the patterns in order. Handlers take `const httplib::Request&`
    // and `httplib::Response&` (generic lambdas cannot go through bounded()).
    using Req = const httplib::Request&;
    using Res = httplib::Response&;
    http.Post("/token", bounded([this](Req req, Res res) { handle_token(req, res); }));
    http.Post("/device_authorization", bounded([this](Req req, Res res) { handle_device_authorization(req, res); }));
    http.Post("/revoke", bounded([this](Req req, Res res) { handle_revoke(req, res); }));
    http.Post("/introspect", bounded([this](Req req, Res res) { handle_introspect(req, res); }));
    http.Get("/userinfo", bounded([this](Req req, Res res) { handle_userinfo(req, res); }));
    http.Post("/userinfo", bounded([this](Req req, Res res) { handle_userinfo(req, res); }));
    auto discovery = [this](Req, Res res) { set_json(res, 200, discovery_body); };
    http.Get("/.well-known/openid-configuration", bounded(discovery));
    http.Get("/.well-known/oauth-authorization-server", bounded(discovery));
    http.Get("/jwks", bounded([this](Req, Res res) { set_json(res, 200, jwks_body); }));
    http.Get("/device", bounded([this](Req req, Res res) { handle_device_page(req, res); }));
    http.Post("/device", bounded([this](Req req, Res res) { handle_code_submit(req, res); }));
    http.Post("/device/signin", bounded([this](Req req, Res res) { handle_sign_in(req, res); }));
    http.Post("/device/decision", bounded([this](Req req, Res res) { handle_decision(req, res); }));
    http.Get("/", bounded([this](Req, Res res) { set_page(res, 200, home_page(issuer)); }));
  }

  void stop_all() {
    std::lock_guard lock(stop_mutex);
    if (stopped) return;
    stopped = true;
    http.stop();
    if (listener.joinable()) listener.join();
    if (sweeper.joinable()) {
      sweeper.request_stop();
      sweeper_wakeup.notify_all();
      sweeper.join();
    }
  }
};

namespace {

Result<void> validate(const ServerOptions& o) {
  auto bad = [](std::string message) { return fail(ErrorCode::kConfig, std::move(message)); };
  if (o.port < 0 || o.port > 65535) return bad("--port must be between 0 and 65535");
  if (o.host.empty()) return bad("--host must not be empty");
  if (!o.allow_non_loopback && !is_loopback_host(o.host)) {
    return bad("refusing to listen on non-loopback host " + o.host + " without --allow-non-loopback");
  }
  if (o.interval < 0 || o.interval > 3600) return bad("--interval must be between 0 and 3600 seconds");
  if (o.code_ttl < 1 || o.code_ttl > 86400) return bad("--code-ttl must be between 1 and 86400 seconds");
  if (o.access_token_ttl < 1 || o.access_token_ttl > 31'536'000) return bad("--access-token-ttl must be between 1 second and 1 year");
  if (o.refresh_token_ttl < 1 || o.refresh_token_ttl > 31'536'000) return bad("refresh token TTL must be between 1 second and 1 year");
  if (o.auto_approve_delay && (*o.auto_approve_delay < 0 || *o.auto_approve_delay > 86400)) {
    return bad("--auto-approve delay must be between 0 and 86400 seconds");
  }
  if (o.slow_down_every < 0) return bad("--slow-down-every must not be negative");
  if (o.hang_up_polls < 0 || o.hang_up_refreshes < 0) return bad("--hang-up-polls and --hang-up-refreshes must not be negative");
  if (o.keep_alive_seconds < 1 || o.keep_alive_seconds > 60) return bad("--keep-alive must be between 1 and 60 seconds");
  for (double rate : {o.fail_rate_500, o.fail_rate_503, o.drop_rate}) {
    if (!(rate >= 0 && rate <= 1)) return bad("--fail-rate-500, --fail-rate-503 and --drop-rate must be between 0 and 1");
  }
  if (o.latency_ms < 0 || o.latency_ms > 60000) return bad("--latency-ms must be between 0 and 60000");
  if (o.max_outstanding_codes < 1 || o.max_tokens < 2) return bad("capacity limits must be positive");
  if (o.max_header_bytes < 1024 || o.max_header_bytes > 1024 * 1024) {
    return bad("the request header limit must be between 1 KiB and 1 MiB");
  }
  if (o.max_body_bytes < 1024 || o.max_body_bytes > 64 * 1024 * 1024) {
    return bad("the request body limit must be between 1 KiB and 64 MiB");
  }
  if (o.max_request_ms < 100 || o.max_request_ms > 600'000) {
    return bad("the request time limit must be between 100 ms and 10 minutes");
  }
  if (o.threads < 1 || o.threads > 1024) return bad("thread count must be between 1 and 1024");
  if (!o.issuer.empty() && !o.issuer.starts_with("http://") && !o.issuer.starts_with("https://")) {
    return bad("--issuer must be an http:// or https:// URL");
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<Server>> Server::start(ServerOptions options) {
  try {
    if (auto valid = validate(options); !valid) return std::unexpected(valid.error());
    auto impl = std::make_unique<Impl>(std::move(options));
    ServerOptions& o = impl->options;

    ClientSpec demo;
    demo.client_id = std::string(kDemoClientId);
    demo.name = "devicelogin demo";
    impl->clients.emplace(demo.client_id, demo);
    std::vector<UserSpec> users = o.users;
    std::vector<ClientSpec> extra = o.clients;
    if (!o.config_file.empty()) {
      auto config = load_config(o.config_file);
      if (!config) return std::unexpected(config.error());
      for (auto& client : config->clients) extra.push_back(std::move(client));
      if (!config->users.empty()) users = std::move(config->users);
    }
    for (auto& client : extra) {
      if (client.client_id.empty()) return fail(ErrorCode::kConfig, "a client has an empty client_id");
      std::string id = client.client_id;
      if (id == kDemoClientId) {
        impl->clients[id] = std::move(client);  // a declared demo client replaces the built-in one
      } else if (!impl->clients.emplace(id, std::move(client)).second) {
        return fail(ErrorCode::kConfig, "client " + id + " is declared twice");
      }
    }
    if (users.empty()) {
      users.push_back(UserSpec{"alice", Secret(std::string_view("alice")), "Alice Example"});
      users.push_back(UserSpec{"bob", Secret(std::string_view("bob")), "Bob Example"});
    }
    impl->first_user = users.front().username;
    for (auto& user : users) {
      std::string name = user.username;
      if (name.empty() || user.password.empty()) return fail(ErrorCode::kConfig, "every user needs a username and a password");
      if (!impl->users.emplace(name, std::move(user)).second) {
        return fail(ErrorCode::kConfig, "user " + name + " is declared twice");
      }
    }

    StateSettings settings;
    settings.max_codes = o.max_outstanding_codes;
    settings.max_tokens = o.max_tokens;
    settings.slow_down_every = o.slow_down_every;
    if (o.auto_approve_delay) {
      settings.auto_approve_after = Millis(static_cast<long long>(*o.auto_approve_delay * 1000.0));
      settings.auto_approve_user = impl->first_user;
    }
    impl->state = std::make_unique<State>(settings);

    auto key = SigningKey::generate();
    if (!key) return std::unexpected(key.error());
    impl->key = std::move(*key);

    // A peer that disconnects while we write must not kill an embedding process with SIGPIPE.
    struct sigaction current {};
    if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
      signal(SIGPIPE, SIG_IGN);
    }

    impl->install_routes();
    std::string host = o.host;
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    int bound = o.port == 0 ? impl->http.bind_to_any_port(host) : (impl->http.bind_to_port(host, o.port) ? o.port : -1);
    if (bound <= 0) {
      return fail(ErrorCode::kNetwork, "cannot listen on " + o.host + ":" + std::to_string(o.port) +
                                           " (address in use or not available)");
    }
    impl->port = bound;
    // httplib listens with a backlog of 5; a burst of connections would see SYN retries.
    if (int fd = impl->listen_fd.load(); fd >= 0) ::listen(fd, SOMAXCONN);

    if (!o.issuer.empty()) {
      impl->issuer = o.issuer;
      while (impl->issuer.ends_with('/')) impl->issuer.pop_back();
    } else {
      bool v6 = host.find(':') != std::string::npos;
      impl->issuer = "http://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(bound);
    }
    impl->build_documents();

    Impl* raw = impl.get();
    impl->listener = std::thread([raw] { raw->http.listen_after_bind(); });
    // stop() is a no-op until httplib marks itself running, so do not return before that.
    for (int i = 0; i < 2000 && !raw->http.is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (!raw->http.is_running()) {
      raw->http.stop();
      if (raw->listener.joinable()) raw->listener.join();
      return fail(ErrorCode::kNetwork, "the HTTP server did not start");
    }
    impl->sweeper = std::jthread([raw](std::stop_token stop) {
      std::unique_lock lock(raw->sweeper_mutex);
      while (!stop.stop_requested()) {
        raw->sweeper_wakeup.wait_for(lock, stop, std::chrono::seconds(1), [] { return false; });
        raw->state->sweep(Clock::now());
      }
    });
    return std::unique_ptr<Server>(new Server(std::move(impl)));
  } catch (const std::exception& e) {
    return fail(ErrorCode::kInternal, std::string("cannot start the server: ") + e.what());
  }
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { stop(); }

std::string Server::issuer() const { return impl_->issuer; }

int Server::port() const { return impl_->port; }

void Server::stop() {
  if (impl_) impl_->stop_all();
}

}  // namespace devicelogin::devserver
