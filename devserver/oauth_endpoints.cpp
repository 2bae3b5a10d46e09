#include "oauth_endpoints.hpp"

#include <algorithm>
#include <chrono>
#include <vector>

#include <nlohmann/json.hpp>

#include "authorization.hpp"
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
// RFC 9449 §7.1: the DPoP challenge names the algorithms a proof may use.
constexpr std::string_view kDpopChallenge = "DPoP algs=\"ES256 EdDSA\"";
constexpr std::string_view kBearerChallenge = "Bearer realm=\"devicelogin\"";

// A resource-server failure (RFC 6750 §3, RFC 9449 §7.1): 401 with the scheme's challenge naming
// the error, and the same error as JSON.
void set_resource_error(httplib::Response& res, bool dpop, std::string_view error, const std::string& description) {
  std::string challenge(dpop ? kDpopChallenge : kBearerChallenge);
  challenge += ", error=\"" + std::string(error) + "\"";
  res.set_header("WWW-Authenticate", challenge);
  set_oauth_error(res, {401, std::string(error), description, false});
}

std::string join_scope(const std::vector<std::string>& tokens) {
  std::string out;
  for (const auto& token : tokens) {
    if (!out.empty()) out += ' ';
    out += token;
  }
  return out;
}

}  // namespace

OAuthEndpoints::OAuthEndpoints(Settings settings, const SigningKey& key, State& state, DpopValidator& dpop,
                               const Directory& directory, const ClientAuth& client_auth, Faults& faults,
                               const Clock& clock, EventLog log)
    : settings_(std::move(settings)),
      key_(key),
      state_(state),
      dpop_(dpop),
      directory_(directory),
      client_auth_(client_auth),
      faults_(faults),
      clock_(clock),
      log_(std::move(log)) {
  const std::string& issuer = settings_.issuer;
  verification_uri_ = issuer + "/device";
  json discovery = {
      {"issuer", issuer},
      {"authorization_endpoint", issuer + "/authorize"},
      {"device_authorization_endpoint", issuer + "/device_authorization"},
      {"token_endpoint", issuer + "/token"},
      {"revocation_endpoint", issuer + "/revoke"},
      {"introspection_endpoint", issuer + "/introspect"},
      {"userinfo_endpoint", issuer + "/userinfo"},
      {"jwks_uri", issuer + "/jwks"},
      {"grant_types_supported", {kDeviceCodeGrant, "authorization_code", "refresh_token"}},
      // The authorization endpoint issues codes only (no implicit or hybrid flows), answered in
      // the query, with PKCE S256 required (RFC 7636; "plain" is refused).
      {"response_types_supported", {"code"}},
      {"response_modes_supported", {"query"}},
      {"code_challenge_methods_supported", {"S256"}},
      // RFC 9207: the authorization response names the issuer (iss).
      {"authorization_response_iss_parameter_supported", true},
      {"scopes_supported", {"openid", "profile", "offline_access"}},
      {"subject_types_supported", {"public"}},
      {"id_token_signing_alg_values_supported", {"ES256"}},
      {"token_endpoint_auth_methods_supported", {"none", "client_secret_basic", "client_secret_post"}},
      {"revocation_endpoint_auth_methods_supported", {"none", "client_secret_basic", "client_secret_post"}},
      {"introspection_endpoint_auth_methods_supported", {"client_secret_basic", "client_secret_post"}},
      {"claims_supported", {"sub", "name", "preferred_username", "iss", "aud", "exp", "iat", "auth_time"}},
      // RFC 9449 §5.1: the proof algorithms the token endpoint accepts.
      {"dpop_signing_alg_values_supported", json::array({kProofAlgorithms[0], kProofAlgorithms[1]})},
  };
  discovery_body_ = dump_json(discovery);
  jwks_body_ = dump_json(json{{"keys", json::array({key_.public_jwk()})}});
}

// ---- device authorization (RFC 8628 §3.1-3.2) -----------------------------------------------

OAuthResult<std::string> resolve_scope(const ClientSpec& client, std::string_view requested) {
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

// ---- DPoP (RFC 9449) ---------------------------------------------------------------------------

std::expected<std::string, DpopFailure> OAuthEndpoints::check_dpop(const httplib::Request& req, httplib::Response& res,
                                                                   std::string_view path,
                                                                   const std::string* access_token) {
  const SystemTime now = clock_.now();
  // RFC 9449 §8.2: a nonce may come with any answer; sending the current one with each lets a
  // client pick up a rotation without a failed request.
  if (dpop_.nonces_required()) {
    if (std::string nonce = dpop_.current_nonce(now); !nonce.empty()) res.set_header("DPoP-Nonce", nonce);
  }
  DpopRequest request;
  auto [first, last] = req.headers.equal_range("DPoP");
  for (auto it = first; it != last; ++it) request.proofs.emplace_back(it->second);
  request.method = req.method;
  // The server knows its public URL: the issuer (which --issuer may set behind a proxy), never
  // the Host header a client chose.
  std::string url = settings_.issuer + std::string(path);
  request.url = url;
  request.access_token = access_token;
  return dpop_.check(request, now);
}

std::optional<std::string> OAuthEndpoints::authorization_server_proof(const httplib::Request& req,
                                                                      httplib::Response& res, std::string_view path) {
  if (!req.has_header("DPoP")) return std::string{};
  auto proof = check_dpop(req, res, path, nullptr);
  if (proof) return *proof;
  switch (proof.error().kind) {
    case DpopFailure::Kind::kInvalidProof:
      set_oauth_error(res, {400, "invalid_dpop_proof", proof.error().description, false});
      break;
    case DpopFailure::Kind::kUseNonce:
      // RFC 9449 §8: 400 use_dpop_nonce, the nonce to use in the DPoP-Nonce header (set above).
      set_oauth_error(res, {400, "use_dpop_nonce", proof.error().description, false});
      break;
    case DpopFailure::Kind::kFull:
      res.set_header("Retry-After", "5");
      set_oauth_error(res, {503, "temporarily_unavailable", proof.error().description, false});
      break;
  }
  return std::nullopt;
}

// ---- token endpoint (RFC 6749 §5, RFC 8628 §3.4-3.5) ----------------------------------------

void OAuthEndpoints::token(const httplib::Request& req, httplib::Response& res) {
  Form form(req.body);
  if (form.get("grant_type") == kDeviceCodeGrant && faults_.hang_up_poll(res)) return;
  if (form.get("grant_type") == "refresh_token" && faults_.hang_up_refresh(res)) return;
  const ClientSpec* client = client_auth_.begin_request(req, res, form, false);
  if (client == nullptr) return;
  // The proof is checked before the grant is looked at: a request with a bad proof must not
  // redeem a device code or rotate a refresh token.
  auto jkt = authorization_server_proof(req, res, "/token");
  if (!jkt) return;
  std::string_view grant_type = form.get("grant_type");
  if (grant_type == kDeviceCodeGrant) return device_code_grant(res, form, *client, *jkt);
  if (grant_type == "refresh_token") return refresh_token_grant(res, form, *client, *jkt);
  if (grant_type == "authorization_code") return authorization_code_grant(res, form, *client, *jkt);
  if (grant_type.empty()) {
    return set_oauth_error(res, {400, "invalid_request", "grant_type is required", false});
  }
  set_oauth_error(res, {400, "unsupported_grant_type", "supported: device_code, authorization_code, refresh_token", false});
}

void OAuthEndpoints::device_code_grant(httplib::Response& res, const Form& form, const ClientSpec& client,
                                       const std::string& jkt) {
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
  // RFC 9449 §5: a public client's refresh tokens are bound to the key of the proof; a
  // confidential client's are bound to the client by its authentication instead.
  std::string refresh_jkt = client.client_secret.empty() ? jkt : std::string{};
  std::uint64_t grant_id = state_.create_grant(outcome.client_id, outcome.username, outcome.scope,
                                               outcome.auth_time, refresh_jkt);
  TokenView view;
  view.grant_id = grant_id;
  view.client_id = outcome.client_id;
  view.username = outcome.username;
  view.scope = outcome.scope;
  view.auth_time = outcome.auth_time;
  issue_tokens(res, view, now, jkt, refresh_jkt);
  log_("tokens issued to " + outcome.client_id + " for " + outcome.username + (jkt.empty() ? "" : " (DPoP-bound)"));
}

void OAuthEndpoints::refresh_token_grant(httplib::Response& res, const Form& form, const ClientSpec& client,
                                         const std::string& jkt) {
  std::string_view refresh_token = form.get("refresh_token");
  if (refresh_token.empty()) {
    return set_oauth_error(res, {400, "invalid_request", "refresh_token is required", false});
  }
  std::string_view scope = form.get("scope");
  const SystemTime now = clock_.now();
  RefreshOutcome outcome =
      state_.refresh(sha256(refresh_token), client.client_id, scope, now, jkt, client.client_secret.empty());
  using Kind = RefreshOutcome::Kind;
  switch (outcome.kind) {
    case Kind::kInvalidGrant:
      return set_oauth_error(res, {400, "invalid_grant", "unknown, expired or revoked refresh token", false});
    case Kind::kReuseDetected:
      log_("refresh token reuse detected for " + client.client_id + ": grant revoked");
      return set_oauth_error(res, {400, "invalid_grant", "refresh token reused; the grant is revoked", false});
    case Kind::kKeyMismatch:
      log_("refresh of a DPoP-bound grant of " + client.client_id + " without its key refused");
      return set_oauth_error(res, {400, "invalid_grant",
                                   jkt.empty() ? "the refresh token is DPoP-bound: a DPoP proof is required"
                                               : "the DPoP proof's key is not the one the refresh token is bound to",
                                   false});
    case Kind::kInvalidScope:
      return set_oauth_error(res, {400, "invalid_scope", "scope exceeds the original grant", false});
    case Kind::kFull:
      res.set_header("Retry-After", "5");
      return set_oauth_error(res, {503, "temporarily_unavailable", "token store is full", false});
    case Kind::kOk:
      break;
  }
  issue_tokens(res, outcome.grant, now, jkt, outcome.grant.jkt);
  log_("tokens refreshed for " + client.client_id + (jkt.empty() ? "" : " (DPoP-bound)"));
}

// RFC 6749 §4.1.3, RFC 7636 §4.5-4.6. Missing or malformed parameters are invalid_request and
// leave the code alone; any other presentation spends it (State::redeem_auth_code).
void OAuthEndpoints::authorization_code_grant(httplib::Response& res, const Form& form, const ClientSpec& client,
                                              const std::string& jkt) {
  std::string_view code = form.get("code");
  std::string_view verifier = form.get("code_verifier");
  std::string_view redirect_uri = form.get("redirect_uri");
  if (code.empty()) return set_oauth_error(res, {400, "invalid_request", "code is required", false});
  if (verifier.empty()) {
    return set_oauth_error(res, {400, "invalid_request", "code_verifier is required (PKCE, RFC 7636)", false});
  }
  if (!valid_code_verifier(verifier)) {
    return set_oauth_error(res, {400, "invalid_request",
                                 "code_verifier must be 43-128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636 §4.1)",
                                 false});
  }
  if (redirect_uri.empty()) return set_oauth_error(res, {400, "invalid_request", "redirect_uri is required", false});
  const SystemTime now = clock_.now();
  // RFC 9449 §5: as for the device grant, a public client's refresh tokens are bound to the key.
  std::string refresh_jkt = client.client_secret.empty() ? jkt : std::string{};
  AuthCodePresentation presented{client.client_id, std::string(redirect_uri), s256_challenge(verifier)};
  AuthCodeOutcome outcome = state_.redeem_auth_code(sha256(code), presented, now, refresh_jkt);
  using Kind = AuthCodeOutcome::Kind;
  switch (outcome.kind) {
    case Kind::kUnknown:
      return set_oauth_error(res, {400, "invalid_grant", "unknown authorization code", false});
    case Kind::kExpired:
      return set_oauth_error(res, {400, "invalid_grant", "the authorization code has expired", false});
    case Kind::kReused:
      log_("authorization code reuse detected for " + client.client_id + ": the tokens issued for it are revoked");
      return set_oauth_error(res, {400, "invalid_grant",
                                   "the authorization code was already used; the tokens issued for it are revoked",
                                   false});
    case Kind::kClientMismatch:
      return set_oauth_error(res, {400, "invalid_grant", "the authorization code was issued to another client", false});
    case Kind::kRedirectMismatch:
      return set_oauth_error(res, {400, "invalid_grant",
                                   "redirect_uri differs from the one in the authorization request", false});
    case Kind::kVerifierMismatch:
      return set_oauth_error(res, {400, "invalid_grant", "code_verifier does not match the code_challenge", false});
    case Kind::kFull:
      res.set_header("Retry-After", "5");
      return set_oauth_error(res, {503, "temporarily_unavailable", "token store is full", false});
    case Kind::kOk:
      break;
  }
  issue_tokens(res, outcome.grant, now, jkt, refresh_jkt, outcome.nonce);
  log_("tokens issued to " + outcome.grant.client_id + " for " + outcome.grant.username +
       " (authorization code)" + (jkt.empty() ? "" : " (DPoP-bound)"));
}

// Mints an access token (RFC 9068 JWT), a refresh token (always: friendliest for CLIs) and,
// with `openid`, an ID token; records them under `view.grant_id` and answers (RFC 6749 §5.1).
void OAuthEndpoints::issue_tokens(httplib::Response& res, const TokenView& view, SystemTime now,
                                  const std::string& access_jkt, const std::string& refresh_jkt,
                                  std::string_view nonce) {
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
  // RFC 9449 §6.1: a bound token names its key's thumbprint in the confirmation claim.
  if (!access_jkt.empty()) access_claims["cnf"] = {{"jkt", access_jkt}};
  // RFC 9068 §2.1: typ "at+jwt" tells resource servers this is an access token.
  auto access_token = key_.sign("at+jwt", access_claims);
  if (!access_token) return set_oauth_error(res, {500, "server_error", "signing failed", false});

  json body = {{"access_token", *access_token},
               {"token_type", access_jkt.empty() ? "Bearer" : "DPoP"},  // RFC 9449 §5
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
    if (!nonce.empty()) id_claims["nonce"] = nonce;
    auto id_token = key_.sign("JWT", id_claims);
    if (!id_token) return set_oauth_error(res, {500, "server_error", "signing failed", false});
    body["id_token"] = *id_token;
  }
  state_.add_token(sha256(*access_token), TokenKind::kAccess, view.grant_id, *jti, now,
                   now + std::chrono::seconds(settings_.access_token_ttl), access_jkt);
  state_.add_token(sha256(*refresh_token), TokenKind::kRefresh, view.grant_id, {}, now,
                   now + std::chrono::seconds(settings_.refresh_token_ttl), refresh_jkt);
  set_json(res, 200, dump_json(body));
  wipe_string(*refresh_token);
  wipe_string(*access_token);
}

// ---- revocation (RFC 7009), introspection (RFC 7662), userinfo ------------------------------

void OAuthEndpoints::revoke(const httplib::Request& req, httplib::Response& res) {
  Form form(req.body);
  const ClientSpec* client = client_auth_.begin_request(req, res, form, false);
  if (client == nullptr) return;
  // A proof is not needed to revoke (revoking only takes a token away), but one that is sent
  // must be valid.
  auto jkt = authorization_server_proof(req, res, "/revoke");
  if (!jkt) return;
  std::string_view token = form.get("token");
  if (token.empty()) return set_oauth_error(res, {400, "invalid_request", "token is required", false});
  // RFC 7009 §2.2: 200 whether or not the token was known (and the hint is only a hint). A
  // token of another client is left alone but answered the same, so this is no token oracle.
  // The log names the proof's key (public), so that a client's proofs here can be checked.
  const bool revoked = state_.revoke(sha256(token), client->client_id);
  log_(std::string(revoked ? "token revoked by " : "revocation of an unknown or inactive token by ") + client->client_id +
       (jkt->empty() ? "" : " with a DPoP proof of key " + *jkt));
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
  // RFC 9449 §6.2: a bound token's key, as the confirmation member.
  if (!view->jkt.empty()) body["cnf"] = {{"jkt", view->jkt}};
  if (view->kind == TokenKind::kAccess) {
    body["token_type"] = view->jkt.empty() ? "Bearer" : "DPoP";
    body["aud"] = settings_.issuer;
    body["jti"] = view->jti;
  } else {
    body["token_type"] = "refresh_token";
  }
  set_json(res, 200, dump_json(body));
}

void OAuthEndpoints::userinfo(const httplib::Request& req, httplib::Response& res) {
  std::string header = req.get_header_value("Authorization");
  std::size_t space = header.find(' ');
  std::string scheme = core::ascii_lower(std::string_view(header).substr(0, space));
  bool bearer = scheme == "bearer";
  bool dpop = scheme == "dpop";
  // RFC 6750 §3, RFC 9449 §7.1: no credentials -> a bare challenge for each scheme we take.
  if ((!bearer && !dpop) || space == std::string::npos || space + 1 >= header.size()) {
    wipe_string(header);
    res.set_header("WWW-Authenticate", std::string(kBearerChallenge));
    res.set_header("WWW-Authenticate", std::string(kDpopChallenge));
    return set_oauth_error(res, {401, "invalid_request", "a Bearer or DPoP access token is required", false});
  }
  std::string token = header.substr(space + 1);
  wipe_string(header);
  auto view = state_.lookup(sha256(token), clock_.now());
  if (!view || view->kind != TokenKind::kAccess) {
    wipe_string(token);
    return set_resource_error(res, dpop, "invalid_token", "the access token is invalid or expired");
  }
  if (view->jkt.empty() && dpop) {
    wipe_string(token);
    return set_resource_error(res, true, "invalid_token", "the access token is not DPoP-bound; present it as Bearer");
  }
  if (!view->jkt.empty()) {
    // RFC 9449 §7.2: a DPoP-bound token is refused as a bearer token; that is what makes a
    // copied token useless.
    if (bearer) {
      wipe_string(token);
      return set_resource_error(res, true, "invalid_token", "the access token is DPoP-bound; present it with the DPoP scheme and a proof");
    }
    auto proof = check_dpop(req, res, "/userinfo", &token);
    wipe_string(token);
    if (!proof) {
      switch (proof.error().kind) {
        case DpopFailure::Kind::kInvalidProof:
          return set_resource_error(res, true, "invalid_dpop_proof", proof.error().description);
        case DpopFailure::Kind::kUseNonce:
          // RFC 9449 §9: 401 with error="use_dpop_nonce" and the nonce in DPoP-Nonce (set).
          return set_resource_error(res, true, "use_dpop_nonce", proof.error().description);
        case DpopFailure::Kind::kFull:
          res.set_header("Retry-After", "5");
          return set_oauth_error(res, {503, "temporarily_unavailable", proof.error().description, false});
      }
    }
    // RFC 9449 §7.1: the proof's key must be the one the token is bound to.
    if (!constant_time_equal(*proof, view->jkt)) {
      return set_resource_error(res, true, "invalid_token", "Invalid DPoP key binding");
    }
  }
  wipe_string(token);
  set_json(res, 200, dump_json(json{{"sub", view->username}, {"name", directory_.user_name(view->username)},
                                    {"preferred_username", view->username}}));
}

}  // namespace devicelogin::devserver
