#pragma once
// URL and form encoding (RFC 3986 / application/x-www-form-urlencoded) and base64url.
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "devicelogin/secret.hpp"

namespace devicelogin::core {

using FormFields = std::vector<std::pair<std::string, std::string>>;

// Percent-encodes everything but RFC 3986 unreserved characters.
[[nodiscard]] std::string url_encode(std::string_view text);
// One value encoded as RFC 6749 Appendix B says: UTF-8 bytes, space as '+', unreserved characters
// kept, every other byte %XX (upper-case hex). Used for HTTP Basic client credentials (§2.3.1).
[[nodiscard]] std::string form_urlencode_value(std::string_view text);
// application/x-www-form-urlencoded body from fields (spaces as %20, which every server accepts).
[[nodiscard]] std::string form_encode(const FormFields& fields);
// The same body built straight into a Secret, with no intermediate copy (for bodies carrying secrets).
[[nodiscard]] Secret form_encode_secret(const FormFields& fields);
// Parses a form body; '+' is a space; malformed escapes are kept literally.
[[nodiscard]] FormFields form_decode(std::string_view body);
// Decodes %XX escapes and '+'.
[[nodiscard]] std::string url_decode(std::string_view text);
// base64url without padding (RFC 7515 §2); nullopt on bad input.
[[nodiscard]] std::optional<std::string> base64url_decode(std::string_view text);
[[nodiscard]] std::string base64url_encode(std::string_view bytes);
[[nodiscard]] std::string base64_encode(std::string_view bytes);
// The code point of the well-formed UTF-8 sequence of 2 to 4 bytes (shortest form, no surrogate,
// at most U+10FFFF) that starts at text[i], and its length; {0, 0} when there is none there (an
// ASCII byte included).
[[nodiscard]] std::pair<char32_t, std::size_t> utf8_code_point_at(std::string_view text, std::size_t i);
// Lower-cases ASCII.
[[nodiscard]] std::string ascii_lower(std::string_view text);

}  // namespace devicelogin::core
