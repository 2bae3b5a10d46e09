#pragma once
// The approval page's HTML: small, escaped, no script, one inline stylesheet.
#include <string>
#include <string_view>
#include <vector>

namespace devicelogin::devserver {

// Escapes & < > " ' for text and attribute values.
[[nodiscard]] std::string html_escape(std::string_view text);
// XXXXXXXX -> XXXX-XXXX (RFC 8628 §6.1: a hyphen helps people read the code).
[[nodiscard]] std::string display_user_code(std::string_view canonical);

// Step 1: type (or confirm) the code shown on the device.
[[nodiscard]] std::string enter_code_page(std::string_view csrf, std::string_view prefill,
                                          std::string_view error);
// Step 2: sign in as a demo user.
[[nodiscard]] std::string sign_in_page(std::string_view csrf, std::string_view user_code,
                                       std::string_view client_name, std::string_view error);
// Step 3: which client asks for which scopes, with Approve and Deny.
[[nodiscard]] std::string consent_page(std::string_view csrf, std::string_view user_code,
                                       std::string_view client_name, std::string_view client_id,
                                       const std::vector<std::string>& scopes,
                                       std::string_view username);
// Step 4: the outcome.
[[nodiscard]] std::string result_page(bool approved, std::string_view client_name);
// Any other message (expired session, rate limit, errors).
[[nodiscard]] std::string message_page(std::string_view title, std::string_view text);
// The server's home page, pointing at the approval page.
[[nodiscard]] std::string home_page(std::string_view issuer);

}  // namespace devicelogin::devserver
