#include "client_auth.hpp"

#include <optional>

#include "core/encoding.hpp"

namespace devicelogin::devserver {

namespace {

// Standard base64 (RFC 4648 §4), as HTTP Basic uses it.
std::optional<std::string> base64_decode(std::string_view text) {
  std::string url(text);
  for (char& c : url) {
    if (c == '+') c = '-';
    else if (c == '/') c = '_';
    else if (c == '-' || c == '_') return std::nullopt;
  }
  return core::base64url_decode(url);
}

}  // namespace

OAuthResult<const ClientSpec*> ClientAuth::authenticate(const httplib::Request& req, const Form& form,
                                                        bool confidential_only) const {
  std::string header = req.get_header_value("Authorization");
  std::string basic_id;
  Secret basic_secret;
  bool used_basic = false;
  if (header.size() > 6 && core::ascii_lower(header.substr(0, 6)) == "basic ") {
    auto decoded = base64_decode(std::string_view(header).substr(6));
    std::size_t colon = decoded ? decoded->find(':') : std::string::npos;
    if (!decoded || colon == std::string::npos) {
      return oauth_fail(401, "invalid_client", "malformed Basic credentials", true);
    }
    used_basic = true;
    // RFC 6749 §2.3.1: both parts are form-urlencoded before being joined with ':'.
    basic_id = core::url_decode(std::string_view(*decoded).substr(0, colon));
    basic_secret = Secret(core::url_decode(std::string_view(*decoded).substr(colon + 1)));
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
  auto it = clients_.find(client_id);
  if (it == clients_.end()) return oauth_fail(401, "invalid_client", "unknown client", used_basic);
  const ClientSpec& client = it->second;
  if (client.client_secret.empty()) {
    if (confidential_only) {
      return oauth_fail(401, "invalid_client", "this endpoint is for confidential clients", used_basic);
    }
    return &client;
  }
  Secret presented = used_basic ? std::move(basic_secret) : Secret(form.get("client_secret"));
  if (presented.empty()) return oauth_fail(401, "invalid_client", "client authentication required", used_basic);
  // Secret::equals compares in constant time.
  if (!presented.equals(client.client_secret)) {
    return oauth_fail(401, "invalid_client", "client authentication failed", used_basic);
  }
  return &client;
}

const ClientSpec* ClientAuth::begin_request(const httplib::Request& req, httplib::Response& res,
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

}  // namespace devicelogin::devserver
