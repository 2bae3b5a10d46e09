#pragma once
// Where the user approves a device login: the verification URI's host as a browser reaches it,
// and whether a profile's server may send the user there (RFC 8628 §5.4 remote phishing; RFC
// 10027, cross-device flows: show the user where they will act).
#include <optional>
#include <string>
#include <string_view>

#include "devicelogin/profile.hpp"
#include "devicelogin/result.hpp"

namespace devicelogin::oauth {

// A URL's host, in the forms a user may need.
struct UrlHost {
  // Lower-case ASCII without port or trailing dot; an IPv6 literal keeps its brackets; a label
  // with non-ASCII characters in its ASCII-compatible form, "xn--" and the RFC 3492 Punycode of
  // its characters as they were sent (no IDNA mapping or normalisation is applied).
  std::string ascii;
  std::string unicode;              // the same host before the xn-- conversion
  bool internationalized = false;  // some label had non-ASCII characters
};

// The host of an absolute URL ("scheme://host..."), read as a browser reads it: the authority ends
// at '/', '\', '?' or '#'; percent escapes in the host are decoded. nullopt when there is no host
// that can be named: no "://", a user name or password ('@'), an empty host, an ASCII character
// that a host name cannot hold, malformed UTF-8 or a label Punycode cannot encode.
[[nodiscard]] std::optional<UrlHost> url_host(std::string_view url);

// RFC 3492 Punycode of a label's code points (without the "xn--" prefix); nullopt on overflow.
[[nodiscard]] std::optional<std::string> punycode_encode(std::u32string_view label);

// What the user is told about the verification page.
struct VerificationHost {
  std::string host;     // UrlHost::ascii of the verification URI
  std::string warning;  // one sentence when the host deserves a second look, else empty
};

// Checks the host of the verification URIs a profile's server returned. kServer (nothing may be
// shown to the user) when a URI has no host that can be named, when verification_uri_complete is
// on another host than verification_uri, or when the profile's preset knows its provider's
// verification hosts and the host is none of them nor the host of the profile's own issuer or
// device authorization endpoint (the server the profile names may serve its own page). Otherwise
// the host, with a warning when it is not the issuer's host (a generic server or a discovery
// preset) or is an internationalised name.
[[nodiscard]] Result<VerificationHost> check_verification_host(const Profile& profile, std::string_view verification_uri,
                                                               std::string_view verification_uri_complete);

}  // namespace devicelogin::oauth
