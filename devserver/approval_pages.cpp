#include "approval_pages.hpp"

#include <chrono>

#include "authorization.hpp"
#include "jose.hpp"
#include "oauth_endpoints.hpp"
#include "pages.hpp"
#include "user_code.hpp"

namespace devicelogin::devserver {

namespace {

constexpr auto kSessionTtl = std::chrono::minutes(15);
constexpr std::string_view kSessionCookie = "dl_session";
constexpr std::size_t kMaxCookieLength = 128;
constexpr std::size_t kAuthCodeBytes = 32;  // RFC 6749 §10.10: unguessable; 256 bits
constexpr std::size_t kMaxStateLength = 1024;
constexpr std::size_t kMaxNonceLength = 512;

// RFC 6749 §4.1.2 and §4.1.2.1: back to the client's redirect URI with `params` in the query,
// and (RFC 9207) the issuer, so that a client talking to several servers can tell who answered.
// 303 after a form post (RFC 9700 §4.12: never 307, which would re-post the password form).
void redirect_to_client(httplib::Response& res, int status, const std::string& redirect_uri,
                        std::vector<std::pair<std::string, std::string>> params, const std::string& state,
                        const std::string& issuer) {
  if (!state.empty()) params.emplace_back("state", state);
  params.emplace_back("iss", issuer);
  res.status = status;
  res.set_header("Location", redirect_with(redirect_uri, params));
  res.set_header("Cache-Control", "no-store");
  res.set_header("Referrer-Policy", "no-referrer");
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

}  // namespace

ApprovalPages::ApprovalPages(std::string issuer, State& state, const Directory& directory, const Clock& clock,
                             EventLog log, long long auth_code_ttl)
    : issuer_(std::move(issuer)),
      state_(state),
      directory_(directory),
      clock_(clock),
      log_(std::move(log)),
      auth_code_ttl_(auth_code_ttl) {}

std::optional<ApprovalPages::PageSession> ApprovalPages::find_session(const httplib::Request& req, SystemTime now) {
  std::string cookie = cookie_value(req, kSessionCookie);
  if (cookie.empty() || cookie.size() > kMaxCookieLength) return std::nullopt;
  std::string session_key = sha256(cookie);
  auto session = state_.session(session_key, now);
  if (!session) return std::nullopt;
  return PageSession{std::move(session_key), std::move(*session)};
}

std::optional<ApprovalPages::PageSession> ApprovalPages::ensure_session(const httplib::Request& req,
                                                                        httplib::Response& res, SystemTime now) {
  if (auto existing = find_session(req, now)) return existing;
  auto cookie = random_token(32);
  auto csrf = random_token(32);
  if (!cookie || !csrf) return std::nullopt;
  PageSession session{sha256(*cookie), BrowserSession{*csrf, {}, {}, now + kSessionTtl, {}, false, std::nullopt}};
  state_.put_session(session.key, session.data);
  res.set_header("Set-Cookie", std::string(kSessionCookie) + "=" + *cookie +
                                   "; Path=/; HttpOnly; SameSite=Strict");
  return session;
}

// The session of a POST whose CSRF token and Origin check out; answers 403 itself otherwise.
std::optional<ApprovalPages::PageSession> ApprovalPages::checked_post(const httplib::Request& req,
                                                                      httplib::Response& res, const Form& form,
                                                                      SystemTime now) {
  std::string origin = req.get_header_value("Origin");
  std::string host = req.get_header_value("Host");
  // A cross-site form post carries its own Origin; a same-origin one names our Host.
  bool origin_ok = origin.empty() || origin == "http://" + host || origin == issuer_;
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

std::string ApprovalPages::consent(const httplib::Request& req, const BrowserSession& session,
                                   const DeviceGrant& grant, SystemTime now, std::string error) const {
  ConsentView view;
  view.csrf = session.csrf;
  view.user_code = display_user_code(grant.user_code);
  view.client_name = directory_.client_name(grant.client_id);
  view.client_id = grant.client_id;
  view.scopes = split_scope(grant.scope);
  view.username = session.username;
  view.requested = grant.created;
  view.now = now;
  view.requested_from = grant.requested_from;
  // Only the address as this server saw it (never a forwarding header, which anyone can send).
  view.same_address = !grant.requested_from.empty() && grant.requested_from == req.remote_addr;
  view.confirm_code = session.code_from_link;
  view.error = std::move(error);
  return consent_page(view);
}

void ApprovalPages::set_code_gone_page(httplib::Response& res, const std::string& user_code, SystemTime now) {
  switch (user_code.empty() ? UserCodeStatus::kUnknown : state_.user_code_status(user_code, now)) {
    case UserCodeStatus::kExpired:
      return set_page(res, 400, code_expired_page());
    case UserCodeStatus::kUsed:
      return set_page(res, 400, code_used_page());
    case UserCodeStatus::kPending:
    case UserCodeStatus::kUnknown:
      break;
  }
  set_page(res, 400, message_page("Code no longer valid",
                                  "This code has expired or was already used. If you are signing in "
                                  "on a device in front of you, start the sign-in there again."));
}

void ApprovalPages::device_page(const httplib::Request& req, httplib::Response& res) {
  const SystemTime now = clock_.now();
  auto session = ensure_session(req, res, now);
  if (!session) return set_page(res, 500, message_page("Server error", "Could not start a session."));
  std::string prefill = req.get_param_value("user_code");
  if (prefill.size() > 32) prefill.clear();
  // Remember which code the link carried: accepting that one asks for a second confirmation.
  auto linked = canonical_user_code(prefill);
  std::string linked_code = linked ? *linked : std::string{};
  if (session->data.linked_code != linked_code) {
    session->data.linked_code = std::move(linked_code);
    state_.put_session(session->key, session->data);
  }
  set_page(res, 200, enter_code_page(session->data.csrf, prefill, ""));
}

void ApprovalPages::code_submit(const httplib::Request& req, httplib::Response& res) {
  const SystemTime now = clock_.now();
  Form form(req.body);
  auto session = checked_post(req, res, form, now);
  if (!session) return;
  std::string limiter_key = "code " + req.remote_addr;
  // RFC 8628 §5.1: user codes are short, so wrong guesses must be rate-limited.
  if (state_.rate_limited(limiter_key, now)) {
    res.set_header("Retry-After", "60");
    return set_page(res, 429, message_page("Too many attempts",
                                           "Too many wrong codes. Wait a minute, then try again."));
  }
  auto code = canonical_user_code(form.get("user_code"));
  auto grant = code ? state_.pending_grant(*code, now) : std::nullopt;
  if (!grant) {
    state_.record_failure(limiter_key, now);
    auto status = code ? state_.user_code_status(*code, now) : UserCodeStatus::kUnknown;
    if (status == UserCodeStatus::kExpired || status == UserCodeStatus::kUsed) {
      return set_code_gone_page(res, *code, now);
    }
    return set_page(res, 400, enter_code_page(session->data.csrf, form.get("user_code"),
                                              "That code is not valid. Check the code shown on your "
                                              "device."));
  }
  session->data.user_code = *code;
  session->data.code_from_link = !session->data.linked_code.empty() && session->data.linked_code == *code;
  session->data.expires = now + kSessionTtl;
  state_.put_session(session->key, session->data);
  if (!session->data.username.empty() && directory_.users.contains(session->data.username)) {
    return set_page(res, 200, consent(req, session->data, *grant, now));
  }
  set_page(res, 200, sign_in_page(session->data.csrf, display_user_code(*code),
                                  directory_.client_name(grant->client_id), ""));
}

void ApprovalPages::sign_in(const httplib::Request& req, httplib::Response& res) {
  const SystemTime now = clock_.now();
  Form form(req.body);
  auto session = checked_post(req, res, form, now);
  if (!session) return;
  if (form.has(kAuthRequestField)) return authorize_sign_in(req, res, form, std::move(*session), now);
  auto grant = session->data.user_code.empty() ? std::nullopt
                                               : state_.pending_grant(session->data.user_code, now);
  if (!grant) return set_code_gone_page(res, session->data.user_code, now);
  std::string limiter_key = "signin " + req.remote_addr;
  if (state_.rate_limited(limiter_key, now)) {
    res.set_header("Retry-After", "60");
    return set_page(res, 429, message_page("Too many attempts",
                                           "Too many failed sign-ins. Wait a minute, then try again."));
  }
  std::string username(form.get("username"));
  if (!password_matches(username, form.get("password"))) {
    state_.record_failure(limiter_key, now);
    return set_page(res, 400, sign_in_page(session->data.csrf, display_user_code(grant->user_code),
                                           directory_.client_name(grant->client_id),
                                           "Wrong username or password."));
  }
  session->data.username = username;
  session->data.expires = now + kSessionTtl;
  state_.put_session(session->key, session->data);
  set_page(res, 200, consent(req, session->data, *grant, now));
}

void ApprovalPages::decision(const httplib::Request& req, httplib::Response& res) {
  const SystemTime now = clock_.now();
  Form form(req.body);
  auto session = checked_post(req, res, form, now);
  if (!session) return;
  if (form.has(kAuthRequestField)) return authorize_decision(res, form, *session, now);
  std::string_view choice = form.get("decision");
  if (session->data.user_code.empty() || session->data.username.empty() ||
      (choice != "approve" && choice != "deny")) {
    return set_page(res, 400, message_page("Please start again", "Enter the code and sign in first."));
  }
  auto grant = state_.pending_grant(session->data.user_code, now);
  bool approve = choice == "approve";
  if (!grant) return set_code_gone_page(res, session->data.user_code, now);
  // RFC 8628 §5.4: a code that arrived in a link is one the user may never have seen on their
  // device; approving it takes an explicit "it matches" (the page's checkbox).
  if (approve && session->data.code_from_link && form.get(kCodeMatchesField) != kCodeMatchesValue) {
    return set_page(res, 400, consent(req, session->data, *grant, now,
                                      "Check the box to confirm that the code matches your device, "
                                      "or choose Deny."));
  }
  if (!state_.decide(session->data.user_code, session->data.username, approve, now)) {
    return set_code_gone_page(res, session->data.user_code, now);
  }
  std::string shown = display_user_code(session->data.user_code);
  session->data.user_code.clear();
  session->data.code_from_link = false;
  state_.put_session(session->key, session->data);
  log_(session->data.username + (approve ? " approved " : " denied ") + shown + " for " + grant->client_id);
  set_page(res, 200, result_page(approve, directory_.client_name(grant->client_id)));
}

bool ApprovalPages::password_matches(const std::string& username, std::string_view typed) const {
  auto user = directory_.users.find(username);
  Secret password(typed);
  // Compare against something even for unknown users, so timing does not reveal usernames.
  static const Secret no_such_user_password(std::string_view("\x01no-such-user"));
  if (user != directory_.users.end()) return password.equals(user->second.password);
  (void)password.equals(no_such_user_password);
  return false;
}

// ---- the authorization endpoint (RFC 6749 §4.1, RFC 7636, RFC 8252) ----------------------------

void ApprovalPages::authorize(const httplib::Request& req, httplib::Response& res) {
  const SystemTime now = clock_.now();
  auto repeated = [&](const char* name) { return req.get_param_value_count(name) > 1; };
  // RFC 6749 §4.1.2.1: with a missing or unknown client, or a redirect URI that is not the
  // client's, the user is told and never sent anywhere (an open redirector otherwise).
  const std::string client_id = req.get_param_value("client_id");
  auto client = directory_.clients.find(client_id);
  if (client_id.empty() || repeated("client_id") || client == directory_.clients.end()) {
    return set_page(res, 400, message_page("Unknown app",
                                           "This sign-in link does not name an app this server knows "
                                           "(client_id is missing or unknown), so it cannot continue."));
  }
  const std::string redirect_uri = req.get_param_value("redirect_uri");
  if (redirect_uri.empty() || repeated("redirect_uri") ||
      !redirect_uri_registered(redirect_uri, client->second.redirect_uris)) {
    return set_page(res, 400, message_page("Return address not registered",
                                           "The app asked to be answered at an address that is not "
                                           "registered for it (redirect_uri), so this server will not send "
                                           "you there. Registered addresses are loopback ones, "
                                           "http://127.0.0.1 or http://[::1] with a registered path; "
                                           "the port may be any."));
  }
  std::string state = req.get_param_value("state");
  if (state.size() > kMaxStateLength || repeated("state")) state.clear();  // never echo a bad one
  auto fail_to_client = [&](const std::string& error, const std::string& description) {
    redirect_to_client(res, 302, redirect_uri, {{"error", error}, {"error_description", description}}, state,
                       issuer_);
  };
  // RFC 6749 §3.1: no parameter more than once.
  for (auto it = req.params.begin(); it != req.params.end(); ++it) {
    if (std::next(it) != req.params.end() && std::next(it)->first == it->first) {
      return fail_to_client("invalid_request", "a parameter is repeated");
    }
  }
  if (req.get_param_value("state").size() > kMaxStateLength) {
    return fail_to_client("invalid_request", "state is longer than 1024 bytes");
  }
  const std::string response_type = req.get_param_value("response_type");
  if (response_type.empty()) return fail_to_client("invalid_request", "response_type is required");
  if (response_type != "code") {
    return fail_to_client("unsupported_response_type", "only response_type=code is supported");
  }
  // RFC 7636 §4.4.1: PKCE is required here, with S256 only (RFC 9700 §2.1.1 recommends it; a
  // "plain" challenge is the verifier itself, in the URL); a missing method means plain (§4.3).
  const std::string challenge = req.get_param_value("code_challenge");
  if (challenge.empty()) return fail_to_client("invalid_request", "code_challenge is required (PKCE with S256)");
  if (req.get_param_value("code_challenge_method") != "S256") {
    return fail_to_client("invalid_request", "transform algorithm not supported: code_challenge_method must be S256");
  }
  if (!valid_s256_challenge(challenge)) {
    return fail_to_client("invalid_request", "code_challenge must be 43 base64url characters (S256)");
  }
  const std::string nonce = req.get_param_value("nonce");
  if (nonce.size() > kMaxNonceLength) return fail_to_client("invalid_request", "nonce is longer than 512 bytes");
  auto scope = resolve_scope(client->second, req.get_param_value("scope"));
  if (!scope) return fail_to_client(scope.error().error, scope.error().description);

  auto session = ensure_session(req, res, now);
  auto id = random_token(16);
  if (!session || !id) return set_page(res, 500, message_page("Server error", "Could not start a session."));
  // One pending request per browser session: a newer one replaces it, and the pages' forms name
  // the request they show, so an older tab cannot decide the newer request.
  AuthRequest request{*id, client_id, redirect_uri, state, challenge, *scope, nonce, now};
  session->data.auth_request = request;
  session->data.expires = now + kSessionTtl;
  state_.put_session(session->key, session->data);
  log_("authorization request from " + client_id);
  if (!session->data.username.empty() && directory_.users.contains(session->data.username)) {
    return set_page(res, 200, authorize_consent(session->data, request, now),
                    parse_loopback_redirect(redirect_uri)->origin);
  }
  set_page(res, 200, sign_in_page(session->data.csrf, "", directory_.client_name(client_id), "", request.id));
}

std::string ApprovalPages::authorize_consent(const BrowserSession& session, const AuthRequest& request,
                                             SystemTime now, std::string error) const {
  ConsentView view;
  view.csrf = session.csrf;
  view.client_name = directory_.client_name(request.client_id);
  view.client_id = request.client_id;
  view.scopes = split_scope(request.scope);
  view.username = session.username;
  view.requested = request.created;
  view.now = now;
  view.error = std::move(error);
  view.auth_request = request.id;
  view.redirect_uri = request.redirect_uri;
  return consent_page(view);
}

std::optional<AuthRequest> ApprovalPages::posted_auth_request(httplib::Response& res, const Form& form,
                                                              const BrowserSession& session, SystemTime now) {
  const auto& pending = session.auth_request;
  if (!pending || !constant_time_equal(form.get(kAuthRequestField), pending->id) ||
      now >= pending->created + kSessionTtl) {
    set_page(res, 400, message_page("Please start again",
                                    "This sign-in request is no longer waiting here: it was completed, "
                                    "replaced by a newer one, or has expired. Start the sign-in in the "
                                    "app again."));
    return std::nullopt;
  }
  return pending;
}

void ApprovalPages::authorize_sign_in(const httplib::Request& req, httplib::Response& res, const Form& form,
                                      PageSession session, SystemTime now) {
  auto request = posted_auth_request(res, form, session.data, now);
  if (!request) return;
  std::string limiter_key = "signin " + req.remote_addr;
  if (state_.rate_limited(limiter_key, now)) {
    res.set_header("Retry-After", "60");
    return set_page(res, 429, message_page("Too many attempts",
                                           "Too many failed sign-ins. Wait a minute, then try again."));
  }
  std::string username(form.get("username"));
  if (!password_matches(username, form.get("password"))) {
    state_.record_failure(limiter_key, now);
    return set_page(res, 400, sign_in_page(session.data.csrf, "", directory_.client_name(request->client_id),
                                           "Wrong username or password.", request->id));
  }
  session.data.username = username;
  session.data.expires = now + kSessionTtl;
  state_.put_session(session.key, session.data);
  set_page(res, 200, authorize_consent(session.data, *request, now),
           parse_loopback_redirect(request->redirect_uri)->origin);
}

void ApprovalPages::authorize_decision(httplib::Response& res, const Form& form, const PageSession& session,
                                       SystemTime now) {
  auto request = posted_auth_request(res, form, session.data, now);
  if (!request) return;
  std::string_view choice = form.get("decision");
  if (session.data.username.empty() || (choice != "approve" && choice != "deny")) {
    return set_page(res, 400, message_page("Please start again", "Sign in first, then approve or deny."));
  }
  if (!state_.take_auth_request(session.key, request->id)) {
    return set_page(res, 400, message_page("Please start again", "This sign-in request was already decided."));
  }
  if (choice == "deny") {
    log_(session.data.username + " denied an authorization request of " + request->client_id);
    return redirect_to_client(res, 303, request->redirect_uri,
                              {{"error", "access_denied"}, {"error_description", "the user denied the request"}},
                              request->state, issuer_);
  }
  auto code = random_token(kAuthCodeBytes);
  if (!code) return set_page(res, 500, message_page("Server error", "Could not make an authorization code."));
  AuthCode record{request->client_id, request->redirect_uri, request->code_challenge, request->scope,
                  request->nonce, session.data.username, now, now + std::chrono::seconds(auth_code_ttl_), false, 0};
  if (!state_.add_auth_code(sha256(*code), std::move(record), now)) {
    wipe_string(*code);
    return redirect_to_client(res, 303, request->redirect_uri,
                              {{"error", "temporarily_unavailable"},
                               {"error_description", "too many outstanding authorization codes"}},
                              request->state, issuer_);
  }
  redirect_to_client(res, 303, request->redirect_uri, {{"code", *code}}, request->state, issuer_);
  wipe_string(*code);
  log_(session.data.username + " approved an authorization request of " + request->client_id);
}

void ApprovalPages::post_only(const httplib::Request&, httplib::Response& res) {
  res.set_header("Allow", "POST");
  set_page(res, 405, message_page("Use the buttons on the page",
                                  "Signing in, approving and denying happen only through the buttons "
                                  "on the approval page, never by opening a link."));
}

void ApprovalPages::home(const httplib::Request&, httplib::Response& res) {
  set_page(res, 200, home_page(issuer_));
}

}  // namespace devicelogin::devserver
