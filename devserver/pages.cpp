#include "pages.hpp"

namespace devicelogin::devserver {

namespace {

constexpr std::string_view kStyle =
    "body{font:16px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;background:#f3f4f6;"
    "color:#111827;margin:0;display:flex;min-height:100vh;align-items:center;"
    "justify-content:center}"
    "main{background:#fff;max-width:26rem;width:100%;margin:1rem;padding:2rem;border-radius:12px;"
    "box-shadow:0 4px 24px rgba(0,0,0,.08)}"
    "h1{font-size:1.35rem;margin:0 0 1rem}p{margin:.5rem 0 1rem}"
    "label{display:block;font-weight:600;margin:.75rem 0 .25rem}"
    "input[type=text],input[type=password]{box-sizing:border-box;width:100%;padding:.6rem .75rem;"
    "font-size:1rem;border:1px solid #d1d5db;border-radius:8px}"
    "input.code{font:600 1.5rem ui-monospace,monospace;letter-spacing:.15em;text-align:center;"
    "text-transform:uppercase}"
    "button{font-size:1rem;font-weight:600;padding:.6rem 1.2rem;border-radius:8px;border:0;"
    "cursor:pointer;background:#2563eb;color:#fff;margin-top:1rem}"
    "button.deny{background:#e5e7eb;color:#111827;margin-left:.5rem}"
    ".error{background:#fef2f2;color:#991b1b;padding:.5rem .75rem;border-radius:8px}"
    ".code-box{font:600 1.4rem ui-monospace,monospace;letter-spacing:.15em}"
    "ul{padding-left:1.25rem}li code{background:#f3f4f6;padding:0 .3rem;border-radius:4px}"
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
              : "<p>Check that this code matches the one shown on your device, then continue.</p>";
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
                         std::string_view client_name, std::string_view error) {
  std::string body = error_block(error);
  body += "<p>Sign in to continue to <strong>" + html_escape(client_name) +
          "</strong> (code <span class=\"code-box\">" + html_escape(user_code) + "</span>).</p>";
  body += "<form method=\"post\" action=\"/device/signin\">" + csrf_field(csrf) +
          "<label for=\"username\">Username</label>"
          "<input type=\"text\" id=\"username\" name=\"username\" autocomplete=\"username\" "
          "maxlength=\"128\" required autofocus>"
          "<label for=\"password\">Password</label>"
          "<input type=\"password\" id=\"password\" name=\"password\" "
          "autocomplete=\"current-password\" maxlength=\"256\" required>"
          "<button type=\"submit\">Sign in</button></form>";
  return page("Sign in", body);
}

std::string consent_page(std::string_view csrf, std::string_view user_code,
                         std::string_view client_name, std::string_view client_id,
                         const std::vector<std::string>& scopes, std::string_view username) {
  std::string body = "<p>Signed in as <strong>" + html_escape(username) + "</strong>.</p>";
  body += "<p><strong>" + html_escape(client_name) + "</strong> (client <code>" +
          html_escape(client_id) + "</code>) on the device showing <span class=\"code-box\">" +
          html_escape(user_code) + "</span> asks for:</p><ul>";
  if (scopes.empty()) body += "<li>basic access (no scope requested)</li>";
  for (const auto& scope : scopes) body += "<li><code>" + html_escape(scope) + "</code></li>";
  body += "</ul><p class=\"muted\">Only approve if you started this sign-in yourself.</p>";
  body += "<form method=\"post\" action=\"/device/decision\">" + csrf_field(csrf) +
          "<button type=\"submit\" name=\"decision\" value=\"approve\">Approve</button>"
          "<button type=\"submit\" name=\"decision\" value=\"deny\" class=\"deny\">Deny</button>"
          "</form>";
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
