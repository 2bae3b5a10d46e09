#include "oauth_endpoints.hpp"

#include <algorithm>
#include <chrono>
#include <vector>

#include <nlohmann/json.hpp>

#include "config.hpp"
#include "pages.hpp"
#include "user_code.hpp"

namespace devicelogin::devserver {

namespace {

using json = nlohmann::json;

constexpr std::string_view kDeviceCodeGrant = "urn:ietf:params:oauth:grant-type:device_code";
constexpr std::size_t kDeviceCodeBytes = 32;  // RFC 8628 §5.2 wants >= 128 bits; we use 256
constexpr std::size_t kRefreshTokenBytes = 32;
constexpr std::size_t kMaxScopeLength = 1024;
constexpr std::string_view kDefaultScope = "openid profile offline_access";
constexpr int kUserCodeAttempts = 8;

std::string join_scope(const std::vector<std::string>& tokens) {
  std::string out;
  for (const auto& token : tokens) {
    if (!out.empty()) out += ' ';
    out += token;
  }
  return out;
}

}  // namespace

OAuthEndpoints::OAuthEndpoints(Settings settings, const SigningKey& key, State& state,
                               const Directory& directory, const ClientAuth& client_auth, Faults& faults,
                               const Clock& clock, EventLog log)
    : settings_(std::move(settings)),
      key_(key),
      state_(state),
      directory_(directory),
      client_auth_(client_auth),
      faults_(faults),
      clock_(clock),
      log_(std::move(log)) {
  const std::string& issuer = settings_.issuer;
  verification_uri_ = issuer + "/device";
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
      {"revocation_endpoint_auth_methods_supported", {"none", "client_secret_basic", "client_secret_post"}},
      {"introspection_endpoint_auth_methods_supported", {"client_secret_basic", "client_secret_post"}},
      {"claims_supported", {"sub", "name", "preferred_username", "iss", "aud", "exp", "iat", "auth_time"}},
  };
  discovery_body_ = dump_json(discovery);
  jwks_body_ = dump_json(json{{"keys", json::array({key_.public_jwk()})}});
}

// ---- device authorization (RFC 8628 §3.1-3.2) -----------------------------------------------

OAuthResult<std::string> OAuthEndpoints::resolve_scope(const ClientSpec& client, std::string_view requested) const {
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

void OAuthEndpoints::device_authorization(const httplib::Request& req, httplib::Response& res) {
  Form form(req.body);
  const ClientSpec* client = client_auth_.begin_request(req, res, form, false);
  if (client == nullptr) return;
  auto scope = resolve_scope(*client, form.get("scope"));
  if (!scope) return set_oauth_error(res, scope.error());

  auto device_code = random_token(kDeviceCodeBytes);
  if (!device_code) return set_oauth_error(res, {500, "server_error", "random generator failed", false});
  std::string device_key = sha256(*device_code);
  const SystemTime now = clock_.now();
  for (int attempt = 0; attempt < kUserCodeAttempts; ++attempt) {
    auto user_code = generate_user_code();
    if (!user_code) return set_oauth_error(res, {500, "server_error", "random generator failed", false});
    DeviceGrant grant;
    grant.user_code = *user_code;
    grant.client_id = client->client_id;
    grant.scope = *scope;
    grant.requested_from = req.remote_addr;
    grant.created = now;
    grant.expires = now + std::chrono::seconds(settings_.code_ttl);
    grant.interval = settings_.interval;
    switch (state_.add_device_grant(device_key, std::move(grant), now)) {
      case State::AddResult::kFull:
        res.set_header("Retry-After", "5");
        return set_oauth_error(res, {503, "temporarily_unavailable", "too many outstanding device codes", false});
      case State::AddResult::kUserCodeTaken:
        continue;
      case State::AddResult::kAdded: {
        std::string shown = display_user_code(*user_code);
        json body = {{"device_code", *device_code},
                     {"user_code", shown},
                     {"verification_uri", verification_uri_},
                     {"verification_uri_complete", verification_uri_ + "?user_code=" + shown},
                     {"expires_in", settings_.code_ttl},
                     {"interval", settings_.interval}};
        wipe_string(*device_code);
        set_json(res, 200, dump_json(body));
        if (log_.enabled()) log_("device code issued: user code " + shown + " for " + client->client_id);
        return;
      }
    }
  }
  set_oauth_error(res, {503, "temporarily_unavailable", "could not allocate a user code", false});
}

// ---- token endpoint (RFC 6749 §5, RFC 8628 §3.4-3.5) ----------------------------------------

void OAuthEndpoints::token(const httplib::Request& req, httplib::Response& res) {
  Form form(req.body);
  if (form.get("grant_type") == kDeviceCodeGrant && faults_.hang_up_poll(res)) return;
  if (form.get("grant_type") == "refresh_token" && faults_.hang_up_refresh(res)) return;
  const ClientSpec* client = client_auth_.begin_request(req, res, form, false);
  if (client == nullptr) return;
  std::string_view grant_type = form.get("grant_type");
  if (grant_type == kDeviceCodeGrant) return device_code_grant(res, form, *client);
  if (grant_type == "refresh_token") return refresh_token_grant(res, form, *client);
  if (grant_type.empty()) {
    return set_oauth_error(res, {400, "invalid_request", "grant_type is required", false});
  }
  set_oauth_error(res, {400, "unsupported_grant_type", "supported: device_code, refresh_token", false});
}

void OAuthEndpoints::device_code_grant(httplib::Response& res, const Form& form, const ClientSpec& client) {
  std::string_view device_code = form.get("device_code");
  if (device_code.empty()) {
    return set_oauth_error(res, {400, "invalid_request", "device_code is required", false});
  }
  const SystemTime now = clock_.now();
  PollOutcome outcome = state_.poll(sha256(device_code), client.client_id, now);
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
  std::uint64_t grant_id = state_.create_grant(outcome.client_id, outcome.username, outcome.scope,
                                               outcome.auth_time);
  TokenView view;
  view.grant_id = grant_id;
  view.client_id = outcome.client_id;
  view.username = outcome.username;
  view.scope = outcome.scope;
  view.auth_time = outcome.auth_time;
  issue_tokens(res, view, now);
  log_("tokens issued to " + outcome.client_id + " for " + outcome.username);
}

void OAuthEndpoints::refresh_token_grant(httplib::Response& res, const Form& form, const ClientSpec& client) {
  std::string_view refresh_token = form.get("refresh_token");
  if (refresh_token.empty()) {
    return set_oauth_error(res, {400, "invalid_request", "refresh_token is required", false});
  }
  std::string_view scope = form.get("scope");
  const SystemTime now = clock_.now();
  RefreshOutcome outcome = state_.refresh(sha256(refresh_token), client.client_id, scope, now);
  using Kind = RefreshOutcome::Kind;
  switch (outcome.kind) {
    case Kind::kInvalidGrant:
      return set_oauth_error(res, {400, "invalid_grant", "unknown, expired or revoked refresh token", false});
    case Kind::kReuseDetected:
      log_("refresh token reuse detected for " + client.client_id + ": grant revoked");
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
  log_("tokens refreshed for " + client.client_id);
}

// Mints an access token (RFC 9068 JWT), a refresh token (always: friendliest for CLIs) and,
// with `openid`, an ID token; records them under `view.grant_id` and answers (RFC 6749 §5.1).
void OAuthEndpoints::issue_tokens(httplib::Response& res, const TokenView& view, SystemTime now) {
  auto jti = random_token(16);
  auto refresh_token = random_token(kRefreshTokenBytes);
  if (!jti || !refresh_token) {
    return set_oauth_error(res, {500, "server_error", "random generator failed", false});
  }
  const std::string& issuer = settings_.issuer;
  const long long iat = to_unix(now);
  const long long exp = iat + settings_.access_token_ttl;
  json access_claims = {{"iss", issuer},        {"sub", view.username},  {"aud", issuer},
                        {"exp", exp},           {"iat", iat},            {"jti", *jti},
                        {"client_id", view.client_id}, {"scope", view.scope},
                        {"auth_time", to_unix(view.auth_time)}};
  // RFC 9068 §2.1: typ "at+jwt" tells resource servers this is an access token.
  auto access_token = key_.sign("at+jwt", access_claims);
  if (!access_token) return set_oauth_error(res, {500, "server_error", "signing failed", false});

  json body = {{"access_token", *access_token},
               {"token_type", "Bearer"},
               {"expires_in", settings_.access_token_ttl},
               {"refresh_token", *refresh_token},
               {"scope", view.scope}};
  if (settings_.omit_expires_in) body.erase("expires_in");
  if (scope_has(view.scope, "openid")) {
    json id_claims = {{"iss", issuer},
                      {"sub", view.username},
                      {"aud", view.client_id},
                      {"exp", exp},
                      {"iat", iat},
                      {"auth_time", to_unix(view.auth_time)},
                      {"name", directory_.user_name(view.username)},
                      {"preferred_username", view.username}};
    auto id_token = key_.sign("JWT", id_claims);
    if (!id_token) return set_oauth_error(res, {500, "server_error", "signing failed", false});
    body["id_token"] = *id_token;
  }
  state_.add_token(sha256(*access_token), TokenKind::kAccess, view.grant_id, *jti, now,
                   now + std::chrono::seconds(settings_.access_token_ttl));
  state_.add_token(sha256(*refresh_token), TokenKind::kRefresh, view.grant_id, {}, now,
                   now + std::chrono::seconds(settings_.refresh_token_ttl));
  set_json(res, 200, dump_json(body));
  wipe_string(*refresh_token);
  wipe_string(*access_token);
}

// ---- revocation (RFC 7009), introspection (RFC 7662), userinfo ------------------------------

void OAuthEndpoints::revoke(const httplib::Request& req, httplib::Response& res) {
  Form form(req.body);
  const ClientSpec* client = client_auth_.begin_request(req, res, form, false);
  if (client == nullptr) return;
  std::string_view token = form.get("token");
  if (token.empty()) return set_oauth_error(res, {400, "invalid_request", "token is required", false});
  // RFC 7009 §2.2: 200 whether or not the token was known (and the hint is only a hint). A
  // token of another client is left alone but answered the same, so this is no token oracle.
  if (state_.revoke(sha256(token), client->client_id)) log_("token revoked by " + client->client_id);
  res.status = 200;
  res.set_header("Cache-Control", "no-store");
}

void OAuthEndpoints::introspect(const httplib::Request& req, httplib::Response& res) {
  Form form(req.body);
  // RFC 7662 §2.1: the endpoint is protected; we accept confidential clients only.
  const ClientSpec* client = client_auth_.begin_request(req, res, form, true);
  if (client == nullptr) return;
  std::string_view token = form.get("token");
  if (token.empty()) return set_oauth_error(res, {400, "invalid_request", "token is required", false});
  auto view = state_.lookup(sha256(token), clock_.now());
  if (!view) return set_json(res, 200, R"({"active":false})");
  json body = {{"active", true},
               {"scope", view->scope},
               {"client_id", view->client_id},
               {"username", view->username},
               {"sub", view->username},
               {"iss", settings_.issuer},
               {"iat", to_unix(view->issued)},
               {"exp", to_unix(view->expires)}};
  if (view->kind == TokenKind::kAccess) {
    body["token_type"] = "Bearer";
    body["aud"] = settings_.issuer;
    body["jti"] = view->jti;
  } else {
    body["token_type"] = "refresh_token";
  }
  set_json(res, 200, dump_json(body));
}

void OAuthEndpoints::userinfo(const httplib::Request& req, httplib::Response& res) {
  std::string header = req.get_header_value("Authorization");
  // RFC 6750 §3: no credentials -> a bare challenge; bad ones -> error="invalid_token".
  if (header.size() <= 7 || core::ascii_lower(header.substr(0, 7)) != "bearer ") {
    res.set_header("WWW-Authenticate", "Bearer realm=\"devicelogin\"");
    return set_oauth_error(res, {401, "invalid_request", "a Bearer access token is required", false});
  }
  auto view = state_.lookup(sha256(std::string_view(header).substr(7)), clock_.now());
  wipe_string(header);
  if (!view || view->kind != TokenKind::kAccess) {
    res.set_header("WWW-Authenticate", "Bearer realm=\"devicelogin\", error=\"invalid_token\"");
    return set_oauth_error(res, {401, "invalid_token", "the access token is invalid or expired", false});
  }
  set_json(res, 200, dump_json(json{{"sub", view->username}, {"name", directory_.user_name(view->username)},
                                    {"preferred_username", view->username}}));
}

}  // namespace devicelogin::devserver
