#pragma once
// Redaction of secrets in anything that may be traced: headers, form bodies, JSON, query strings.
#include <string>
#include <string_view>
#include <vector>

#include "devicelogin/secret.hpp"

namespace devicelogin::core {

inline constexpr std::string_view kRedacted = "[REDACTED]";

// True for parameter / JSON member names whose values are secrets (device_code, code,
// access_token, refresh_token, id_token, client_secret, password, assertion, ..., and the
// provider-specific pending_authentication_token and sealed_session). In JSON, `code` is an error
// name and stays visible (redact_json).
[[nodiscard]] bool is_secret_field(std::string_view name);
// True for headers whose values are credentials (Authorization, Proxy-Authorization, Cookie,
// Set-Cookie).
[[nodiscard]] bool is_secret_header(std::string_view name);

// `a=1&device_code=xyz` -> `a=1&device_code=[REDACTED]`.
[[nodiscard]] std::string redact_form(std::string_view body);
// Replaces the string values of secret members anywhere in a JSON text, and the whole value of
// members that hold tokens (oauth_tokens), without parsing it (so that truncated or malformed JSON
// is redacted too).
[[nodiscard]] std::string redact_json(std::string_view body);
// Redacts the userinfo (`user:password@`), query string and fragment of a URL.
[[nodiscard]] std::string redact_url(std::string_view url);
// Redacts the userinfo of every `scheme://user:password@host` anywhere in a text (a proxy URL
// quoted in a log line, say): `http://[REDACTED]@host`.
[[nodiscard]] std::string redact_userinfo(std::string_view text);
// Redacts a body of unknown type: JSON members and form fields both.
[[nodiscard]] std::string redact_body(std::string_view body);
// Replaces every occurrence of each known secret value, as sent, percent-encoded (either hex case)
// or JSON-escaped (belt and braces for echoed values).
[[nodiscard]] std::string redact_known(std::string text, const std::vector<const Secret*>& secrets);

}  // namespace devicelogin::core
