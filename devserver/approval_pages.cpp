#include "approval_pages.hpp"

#include <chrono>

#include "jose.hpp"
#include "pages.hpp"
#include "user_code.hpp"

namespace devicelogin::devserver {

namespace {

constexpr auto kSessionTtl = std::chrono::minutes(15);
constexpr std::string_view kSessionCookie = "dl_session";
constexpr std::size_t kMaxCookieLength = 128;

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
                             EventLog log)
    : issuer_(std::move(issuer)), state_(state), directory_(directory), clock_(clock), log_(std::move(log)) {}

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
  PageSession session{sha256(*cookie), BrowserSession{*csrf, {}, {}, now + kSessionTtl, {}, false}};
  state_.put_session(session.key, session.data);
  res.set_header("Set-Cookie", std::string(kSessionCookie) + "=" + *cookie +
                                   "; Path=/device; HttpOnly; SameSite=Strict");
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
  auto user = directory_.users.find(username);
  Secret password(form.get("password"));
  // Compare against something even for unknown users, so timing does not reveal usernames.
  static const Secret no_such_user_password(std::string_view("\x01no-such-user"));
  bool ok = false;
  if (user != directory_.users.end()) {
    ok = password.equals(user->second.password);
  } else {
    (void)password.equals(no_such_user_password);
  }
  if (!ok) {
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
