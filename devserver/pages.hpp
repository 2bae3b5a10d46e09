#pragma once
// The approval page's HTML: small, escaped, no script, one inline stylesheet.
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace devicelogin::devserver {

// Escapes & < > " ' for text and attribute values.
[[nodiscard]] std::string html_escape(std::string_view text);
// XXXXXXXX -> XXXX-XXXX (RFC 8628 §6.1: a hyphen helps people read the code).
[[nodiscard]] std::string display_user_code(std::string_view canonical);

// "less than a minute ago", "1 minute ago", "7 minutes ago", "2 hours ago"; "just now" when
// `then` is after `now`.
[[nodiscard]] std::string relative_time(std::chrono::system_clock::time_point then,
                                        std::chrono::system_clock::time_point now);
// "2026-12-07 16:40:12 UTC".
[[nodiscard]] std::string utc_time(std::chrono::system_clock::time_point t);
// A scope in plain words ("See your e-mail address"); empty for a scope we cannot describe.
[[nodiscard]] std::string scope_in_words(std::string_view scope);

// Step 1: type (or confirm) the code shown on the device. A prefilled code came from a link
// (verification_uri_complete): the page says it will be confirmed again before approval.
[[nodiscard]] std::string enter_code_page(std::string_view csrf, std::string_view prefill,
                                          std::string_view error);
// Step 2: sign in as a demo user. In the code flow there is no user code (empty) and the form
// carries the authorization request's id (`auth_request`).
[[nodiscard]] std::string sign_in_page(std::string_view csrf, std::string_view user_code,
                                       std::string_view client_name, std::string_view error,
                                       std::string_view auth_request = {});
// The hidden form field that names the authorization request a page is about (the code flow).
inline constexpr std::string_view kAuthRequestField = "auth_request";
// What the consent page shows: the context of the request, so the user can tell whether it is
// the one they started (RFC 10027, user experience: who asks, for what, when, from where).
struct ConsentView {
  std::string csrf;
  std::string user_code;  // as displayed (XXXX-XXXX)
  std::string client_name;
  std::string client_id;
  std::vector<std::string> scopes;
  std::string username;
  std::chrono::system_clock::time_point requested;  // when the device asked for the code
  std::chrono::system_clock::time_point now;
  std::string requested_from;  // the device's address as the server saw it; may be empty
  bool same_address = false;   // the device's address is this browser's
  bool confirm_code = false;   // the code came from a link: approval needs the "matches" box
  std::string error;
  // The code flow: the authorization request's id (the user code is then empty) and where the
  // browser goes afterwards (the redirect URI, a loopback address: an app on this computer).
  std::string auth_request;
  std::string redirect_uri;
};
// Step 3: the request in context, the warning, and Approve and Deny (equal, neither focused).
[[nodiscard]] std::string consent_page(const ConsentView& view);
// The form field (a checkbox) that confirms the code matches the device's, and its value.
inline constexpr std::string_view kCodeMatchesField = "code_matches";
inline constexpr std::string_view kCodeMatchesValue = "yes";
// Step 4: the outcome.
[[nodiscard]] std::string result_page(bool approved, std::string_view client_name);
// A code that is no longer pending: expired, or already used (a code works once).
[[nodiscard]] std::string code_expired_page();
[[nodiscard]] std::string code_used_page();
// Any other message (expired session, rate limit, errors).
[[nodiscard]] std::string message_page(std::string_view title, std::string_view text);
// The server's home page, pointing at the approval page.
[[nodiscard]] std::string home_page(std::string_view issuer);

}  // namespace devicelogin::devserver
