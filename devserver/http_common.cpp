#include "http_common.hpp"

#include <nlohmann/json.hpp>

#include "devicelogin/secret.hpp"
#include "jose.hpp"

namespace devicelogin::devserver {

namespace {

constexpr std::string_view kPagePolicy =
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";

}  // namespace

Form::Form(std::string_view body) : fields_(core::form_decode(body)) {}

Form::~Form() {
  for (auto& [name, value] : fields_) wipe_string(value);
}

std::string_view Form::get(std::string_view name) const {
  for (const auto& [key, value] : fields_) {
    if (key == name) return value;
  }
  return {};
}

bool Form::has(std::string_view name) const {
  for (const auto& field : fields_) {
    if (field.first == name) return true;
  }
  return false;
}

bool Form::has_repeated_parameter() const {
  for (std::size_t i = 0; i < fields_.size(); ++i) {
    for (std::size_t j = i + 1; j < fields_.size(); ++j) {
      if (fields_[i].first == fields_[j].first) return true;
    }
  }
  return false;
}

bool is_form_body(const httplib::Request& req) {
  std::string type = core::ascii_lower(req.get_header_value("Content-Type"));
  return type.starts_with("application/x-www-form-urlencoded");
}

void set_json(httplib::Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_header("Pragma", "no-cache");
  res.set_content(body, "application/json");  // httplib copies: it takes a const reference
}

void set_oauth_error(httplib::Response& res, const OAuthFailure& failure) {
  nlohmann::json body = {{"error", failure.error}};
  if (!failure.description.empty()) body["error_description"] = failure.description;
  if (failure.basic_challenge) res.set_header("WWW-Authenticate", "Basic realm=\"devicelogin\"");
  set_json(res, failure.status, dump_json(body));
}

void set_page(httplib::Response& res, int status, const std::string& html) { set_page(res, status, html, {}); }

void set_page(httplib::Response& res, int status, const std::string& html, std::string_view redirect_origin) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  std::string policy(kPagePolicy);
  if (!redirect_origin.empty()) {
    std::size_t at = policy.find("form-action 'self'") + std::string_view("form-action 'self'").size();
    policy.insert(at, " " + std::string(redirect_origin));
  }
  res.set_header("Content-Security-Policy", policy);
  // Clickjacking the approval page is a real device-flow attack: never render in a frame.
  res.set_header("X-Frame-Options", "DENY");
  res.set_header("X-Content-Type-Options", "nosniff");
  // same-origin, not no-referrer: the user code in the URL still never leaks to other sites, and
  // browsers keep sending a real Origin on our own form posts (with no-referrer Chromium sends
  // `Origin: null`, which the CSRF check rightly refuses).
  res.set_header("Referrer-Policy", "same-origin");
  res.set_content(html, "text/html; charset=utf-8");
}

}  // namespace devicelogin::devserver
