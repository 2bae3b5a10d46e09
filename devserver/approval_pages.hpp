#pragma once
// The browser approval pages (RFC 8628 §3.3): enter the code, sign in as a demo user, approve or
// deny. The authorization endpoint (RFC 6749 §4.1, code + PKCE S256, loopback redirects only)
// leads to the same sign-in and consent pages, and its decision redirects back to the client. Cookie sessions, a CSRF token and an Origin check on every post, and rate limits on wrong
// codes and failed sign-ins (RFC 8628 §5.1). The HTML comes from pages.hpp.
#include <optional>
#include <string>

#include <httplib.h>

#include "devicelogin/clock.hpp"
#include "directory.hpp"
#include "http_common.hpp"
#include "state.hpp"

namespace devicelogin::devserver {

class ApprovalPages {
 public:
  // Every reference must outlive this object. `issuer` is a same-origin Origin for posts; "now"
  // is `clock.now()` (code validity, session lifetime, rate-limit windows).
  ApprovalPages(std::string issuer, State& state, const Directory& directory, const Clock& clock,
                EventLog log, long long auth_code_ttl = 60);

  // GET /authorize (RFC 6749 §4.1.1): checks the request; a bad client or redirect_uri gets a
  // page, other errors go back to the redirect URI (§4.1.2.1); a good request shows the sign-in
  // page, or the consent page when the browser is signed in.
  void authorize(const httplib::Request& req, httplib::Response& res);

  // GET /device: starts a session and shows the code form (prefilled from ?user_code=).
  void device_page(const httplib::Request& req, httplib::Response& res);
  // POST /device: checks the typed code; asks for sign-in, or for consent when signed in.
  void code_submit(const httplib::Request& req, httplib::Response& res);
  // POST /device/signin: checks the password; shows the consent page.
  void sign_in(const httplib::Request& req, httplib::Response& res);
  // POST /device/decision: approves or denies the session's code as the signed-in user; approving
  // a code that came from a link needs the "code matches" box ticked.
  void decision(const httplib::Request& req, httplib::Response& res);
  // GET /device/signin and /device/decision: 405 with a page; a GET never signs in or decides.
  void post_only(const httplib::Request& req, httplib::Response& res);
  // GET /: the home page, pointing at the approval page.
  void home(const httplib::Request& req, httplib::Response& res);

 private:
  struct PageSession {
    std::string key;  // SHA-256 of the cookie
    BrowserSession data;
  };

  std::optional<PageSession> find_session(const httplib::Request& req, SystemTime now);
  std::optional<PageSession> ensure_session(const httplib::Request& req, httplib::Response& res, SystemTime now);
  std::optional<PageSession> checked_post(const httplib::Request& req, httplib::Response& res, const Form& form,
                                          SystemTime now);
  [[nodiscard]] std::string consent(const httplib::Request& req, const BrowserSession& session,
                                    const DeviceGrant& grant, SystemTime now, std::string error = {}) const;
  // True when `typed` is the password of `username`, in time that does not reveal whether the
  // user exists.
  [[nodiscard]] bool password_matches(const std::string& username, std::string_view typed) const;
  [[nodiscard]] std::string authorize_consent(const BrowserSession& session, const AuthRequest& request,
                                              SystemTime now, std::string error = {}) const;
  // The session's authorization request when the form names it and it is still valid; answers a
  // "start again" page itself and returns nullopt otherwise.
  std::optional<AuthRequest> posted_auth_request(httplib::Response& res, const Form& form,
                                                 const BrowserSession& session, SystemTime now);
  void authorize_sign_in(const httplib::Request& req, httplib::Response& res, const Form& form, PageSession session,
                         SystemTime now);
  void authorize_decision(httplib::Response& res, const Form& form, const PageSession& session, SystemTime now);
  // The page for a code that is not pending (expired, used or unknown), with its status code.
  void set_code_gone_page(httplib::Response& res, const std::string& user_code, SystemTime now);

  std::string issuer_;
  State& state_;
  const Directory& directory_;
  const Clock& clock_;
  EventLog log_;
  long long auth_code_ttl_;
};

}  // namespace devicelogin::devserver
