#include "pages.hpp"

#include <cstdio>
#include <ctime>

namespace devicelogin::devserver {

namespace {

constexpr std::string_view kStyle =
    "body{font:16px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;background:#f3f4f6;"
    "color:#111827;margin:0;display:flex;min-height:100vh;align-items:center;"
    "justify-content:center}"
    "main{background:#fff;max-width:30rem;width:100%;margin:1rem;padding:2rem;border-radius:12px;"
    "box-shadow:0 4px 24px rgba(0,0,0,.08)}"
    "h1{font-size:1.35rem;margin:0 0 1rem}p{margin:.5rem 0 1rem}"
    "label{display:block;font-weight:600;margin:.75rem 0 .25rem}"
    "input[type=text],input[type=password]{box-sizing:border-box;width:100%;padding:.6rem .75rem;"
    "font-size:1rem;border:1px solid #d1d5db;border-radius:8px}"
    "input.code{font:600 1.5rem ui-monospace,monospace;letter-spacing:.15em;text-align:center;"
    "text-transform:uppercase}"
    "button{font-size:1rem;font-weight:600;padding:.6rem 1.2rem;border-radius:8px;border:0;"
    "cursor:pointer;background:#2563eb;color:#fff;margin-top:1rem}"
    // Approve and Deny share one class and one grid track size: equal in size and weight, so
    // the page does not steer the user towards approving.
    ".choices{display:grid;grid-template-columns:1fr 1fr;gap:.75rem;margin-top:1rem}"
    "button.choice{margin:0;background:#fff;color:#111827;border:2px solid #374151}"
    "button:focus-visible{outline:3px solid #2563eb;outline-offset:2px}"
    ".error{background:#fef2f2;color:#991b1b;padding:.5rem .75rem;border-radius:8px}"
    ".warning{background:#fffbeb;color:#78350f;border-left:4px solid #d97706;padding:.5rem .75rem;"
    "border-radius:8px}"
    ".code-box{font:600 1.4rem ui-monospace,monospace;letter-spacing:.15em}"
    "dl.context{display:grid;grid-template-columns:auto 1fr;gap:.35rem 1rem;margin:0 0 1rem}"
    "dl.context dt{font-weight:600;color:#374151}dl.context dd{margin:0;overflow-wrap:anywhere}"
    "dl.context ul{margin:0;padding-left:1.1rem}"
    "label.check{display:flex;gap:.5rem;align-items:flex-start;font-weight:600}"
    "label.check input{margin-top:.3rem}"
    "ul{padding-left:1.25rem}code{background:#f3f4f6;padding:0 .3rem;border-radius:4px;"
    "overflow-wrap:anywhere}"
    ".muted{color:#6b7280;font-size:.9rem}";

std::string page(std::string_view title, std::string_view body) {
  std::string out;
  out.reserve(4096);
  out += "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>";
  out += html_escape(title);
  out += " · devicelogin</title><style>";
  out += kStyle;
  out += "</style></head><body><main><h1>";
  out += html_escape(title);
  out += "</h1>\n";
  out += body;
  out += "\n<p class=\"muted\">devicelogin development server</p></main></body></html>\n";
  return out;
}

std::string csrf_field(std::string_view csrf) {
  return "<input type=\"hidden\" name=\"csrf\" value=\"" + html_escape(csrf) + "\">";
}

std::string auth_request_field(std::string_view id) {
  if (id.empty()) return {};
  return "<input type=\"hidden\" name=\"" + std::string(kAuthRequestField) + "\" value=\"" + html_escape(id) + "\">";
}

std::string error_block(std::string_view error) {
  if (error.empty()) return {};
  return "<p class=\"error\" role=\"alert\">" + html_escape(error) + "</p>";
}

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 16);
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string display_user_code(std::string_view canonical) {
  if (canonical.size() != 8) return std::string(canonical);
  return std::string(canonical.substr(0, 4)) + "-" + std::string(canonical.substr(4));
}

std::string enter_code_page(std::string_view csrf, std::string_view prefill, std::string_view error) {
  std::string body = error_block(error);
  body += prefill.empty()
              ? "<p>Enter the code shown on your device.</p>"
              : "<p>The link you opened filled in this code. Check that it matches the code shown "
                "on your device; you will confirm it again before you approve.</p>";
  body += "<form method=\"post\" action=\"/device\">" + std::string(csrf_field(csrf)) +
          "<label for=\"user_code\">Code</label>"
          "<input class=\"code\" type=\"text\" id=\"user_code\" name=\"user_code\" value=\"" +
          html_escape(prefill) +
          "\" autocomplete=\"off\" autocapitalize=\"characters\" spellcheck=\"false\" "
          "maxlength=\"32\" placeholder=\"XXXX-XXXX\" required autofocus>"
          "<button type=\"submit\">Continue</button></form>";
  return page("Connect a device", body);
}

std::string sign_in_page(std::string_view csrf, std::string_view user_code,
                         std::string_view client_name, std::string_view error, std::string_view auth_request) {
  std::string body = error_block(error);
  body += "<p>Sign in to continue to <strong>" + html_escape(client_name) + "</strong>";
  body += user_code.empty() ? std::string(".</p>")
                            : " (code <span class=\"code-box\">" + html_escape(user_code) + "</span>).</p>";
  body += "<form method=\"post\" action=\"/device/signin\">" + csrf_field(csrf) + auth_request_field(auth_request) +
          "<label for=\"username\">Username</label>"
          "<input type=\"text\" id=\"username\" name=\"username\" autocomplete=\"username\" "
          "maxlength=\"128\" required autofocus>"
          "<label for=\"password\">Password</label>"
          "<input type=\"password\" id=\"password\" name=\"password\" "
          "autocomplete=\"current-password\" maxlength=\"256\" required>"
          "<button type=\"submit\">Sign in</button></form>";
  return page("Sign in", body);
}

std::string relative_time(std::chrono::system_clock::time_point then,
                          std::chrono::system_clock::time_point now) {
  if (then > now) return "just now";
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now - then).count();
  if (seconds < 60) return "less than a minute ago";
  if (seconds < 3600) {
    const auto minutes = seconds / 60;
    return minutes == 1 ? "1 minute ago" : std::to_string(minutes) + " minutes ago";
  }
  const auto hours = seconds / 3600;
  return hours == 1 ? "1 hour ago" : std::to_string(hours) + " hours ago";
}

std::string utc_time(std::chrono::system_clock::time_point t) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  if (::gmtime_r(&seconds, &tm) == nullptr) return "an unknown time";
  char buffer[48];
  (void)std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02d %02d:%02d:%02d UTC", tm.tm_year + 1900,
                      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buffer;
}

std::string scope_in_words(std::string_view scope) {
  // The scopes OpenID Connect Core §5.4 and §11 define; others are the client's own.
  if (scope == "openid") return "Confirm who you are";
  if (scope == "profile") return "See your name and profile";
  if (scope == "email") return "See your e-mail address";
  if (scope == "address") return "See your postal address";
  if (scope == "phone") return "See your phone number";
  if (scope == "offline_access") return "Keep access while you are away, until you sign out";
  return {};
}

namespace {

// The code flow's consent page: the same context, for an app on this computer that the browser
// returns to (RFC 8252 §7.3: a loopback redirect), rather than a device showing a code.
std::string authorize_consent_page(const ConsentView& view) {
  std::string body = error_block(view.error);
  body += "<p>Signed in as <strong>" + html_escape(view.username) + "</strong>.</p>";
  // RFC 10027 (cross-device BCP): the user should know what started the request; a link someone
  // sent is the phishing vector here, as a code is in the device flow.
  body += "<p class=\"warning\" role=\"note\"><strong>Unless you started this sign-in yourself, "
          "in an app on this computer, choose Deny.</strong> If you opened a link someone sent you, deny.</p>";
  body += "<dl class=\"context\"><dt>App</dt><dd><strong>" + html_escape(view.client_name) +
          "</strong> (client <code>" + html_escape(view.client_id) + "</code>)</dd>";
  body += "<dt>Requested</dt><dd>" + html_escape(relative_time(view.requested, view.now)) + " (" +
          html_escape(utc_time(view.requested)) + ")</dd>";
  body += "<dt>Returns to</dt><dd>an app on this computer, at <code>" + html_escape(view.redirect_uri) + "</code></dd>";
  body += "<dt>Asks to</dt><dd><ul>";
  if (view.scopes.empty()) body += "<li>Basic access (no scope requested)</li>";
  for (const auto& scope : view.scopes) {
    std::string words = scope_in_words(scope);
    body += words.empty() ? "<li>Use the permission <code>" + html_escape(scope) + "</code></li>"
                          : "<li>" + html_escape(words) + " <code>" + html_escape(scope) + "</code></li>";
  }
  body += "</ul></dd></dl>";
  body += "<p>If you approve, this app will be able to act as you (<strong>" + html_escape(view.username) +
          "</strong>) until you sign out.</p>";
  body += "<form method=\"post\" action=\"/device/decision\">" + csrf_field(view.csrf) +
          auth_request_field(view.auth_request);
  // No autofocus: Enter on page load must not decide for the user.
  body += "<div class=\"choices\">"
          "<button type=\"submit\" name=\"decision\" value=\"approve\" class=\"choice\">Approve</button>"
          "<button type=\"submit\" name=\"decision\" value=\"deny\" class=\"choice\" formnovalidate>Deny</button>"
          "</div></form>";
  return page("Allow access?", body);
}

}  // namespace

std::string consent_page(const ConsentView& view) {
  if (!view.auth_request.empty()) return authorize_consent_page(view);
  std::string body = error_block(view.error);
  body += "<p>Signed in as <strong>" + html_escape(view.username) + "</strong>.</p>";
  // RFC 10027 (cross-device BCP): consent phishing works by handing a victim a code that the
  // attacker's device is waiting on; say plainly when to deny, and that codes are never sent.
  body += "<p class=\"warning\" role=\"note\"><strong>Unless you started this sign-in yourself, on a "
          "device in front of you, choose Deny.</strong> Codes are never sent by e-mail or chat: if "
          "someone sent you this code or link, deny.</p>";
  body += "<dl class=\"context\"><dt>App</dt><dd><strong>" + html_escape(view.client_name) +
          "</strong> (client <code>" + html_escape(view.client_id) + "</code>)</dd>";
  body += "<dt>Code</dt><dd><span class=\"code-box\">" + html_escape(view.user_code) + "</span></dd>";
  body += "<dt>Requested</dt><dd>" + html_escape(relative_time(view.requested, view.now)) + " (" +
          html_escape(utc_time(view.requested)) + ")</dd>";
  body += "<dt>From</dt><dd>";
  if (view.requested_from.empty()) {
    body += "an unknown address";
  } else if (view.same_address) {
    body += "this computer (" + html_escape(view.requested_from) + ")";
  } else {
    body += "another computer, at address <code>" + html_escape(view.requested_from) + "</code>";
  }
  body += "</dd><dt>Asks to</dt><dd><ul>";
  if (view.scopes.empty()) body += "<li>Basic access (no scope requested)</li>";
  for (const auto& scope : view.scopes) {
    std::string words = scope_in_words(scope);
    body += words.empty() ? "<li>Use the permission <code>" + html_escape(scope) + "</code></li>"
                          : "<li>" + html_escape(words) + " <code>" + html_escape(scope) + "</code></li>";
  }
  body += "</ul></dd></dl>";
  body += "<p>If you approve, this device will be able to act as you (<strong>" + html_escape(view.username) +
          "</strong>) until you sign out.</p>";
  body += "<form method=\"post\" action=\"/device/decision\">" + csrf_field(view.csrf);
  if (view.confirm_code) {
    // RFC 8628 §5.4: a link carries the code, so the user must still compare it with the device.
    body += "<p>You opened a link that filled in the code for you. Before approving, check that "
            "<span class=\"code-box\">" + html_escape(view.user_code) +
            "</span> is the code your device shows.</p>"
            "<label class=\"check\"><input type=\"checkbox\" name=\"" + std::string(kCodeMatchesField) +
            "\" value=\"" + std::string(kCodeMatchesValue) +
            "\" required><span>The code on my device is " + html_escape(view.user_code) + "</span></label>";
  }
  // No autofocus: Enter on page load must not decide for the user. Deny skips the browser's
  // required-field check, since denying needs no confirmation.
  body += "<div class=\"choices\">"
          "<button type=\"submit\" name=\"decision\" value=\"approve\" class=\"choice\">Approve</button>"
          "<button type=\"submit\" name=\"decision\" value=\"deny\" class=\"choice\" formnovalidate>Deny</button>"
          "</div></form>";
  return page("Allow access?", body);
}

std::string result_page(bool approved, std::string_view client_name) {
  if (approved) {
    return page("Device connected", "<p><strong>" + html_escape(client_name) +
                                        "</strong> is now signed in. You can close this window "
                                        "and return to your device.</p>");
  }
  return page("Access denied", "<p>You denied access to <strong>" + html_escape(client_name) +
                                   "</strong>. You can close this window.</p>");
}

std::string code_expired_page() {
  return message_page("Code expired",
                      "This code has expired. If you are signing in on a device in front of you, start "
                      "the sign-in there again to get a new code.");
}

std::string code_used_page() {
  return message_page("Code already used",
                      "This code was already used to approve or deny a sign-in, and a code works only "
                      "once. If you are signing in on a device in front of you, start the sign-in there "
                      "again to get a new code.");
}

std::string message_page(std::string_view title, std::string_view text) {
  return page(title, "<p>" + html_escape(text) +
                         "</p><p><a href=\"/device\">Enter a code</a></p>");
}

std::string home_page(std::string_view issuer) {
  return page("devicelogin development server",
              "<p>Issuer <code>" + html_escape(issuer) +
                  "</code>.</p><p><a href=\"/device\">Enter a code from your device</a></p>");
}

}  // namespace devicelogin::devserver
