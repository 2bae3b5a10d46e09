#pragma once
// Internal: the URL policy check that also hands the parsed URL to libcurl, so the URL that was
// checked is exactly the URL that is connected to (no second parse, no parser differential).
#include <curl/curl.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "devicelogin/result.hpp"

namespace devicelogin::http {

struct CurlUrlDeleter {
  void operator()(CURLU* url) const noexcept { curl_url_cleanup(url); }
};
using CurlUrlPtr = std::unique_ptr<CURLU, CurlUrlDeleter>;

// A URL that passed check_url_policy, parsed by libcurl.
struct CheckedUrl {
  CurlUrlPtr handle;
  std::string scheme;     // lower case: "http" or "https"
  std::string authority;  // host[:port] as libcurl normalised it, for messages (no userinfo)
  bool loopback = false;  // true when the host is a loopback host (127.0.0.0/8, ::1, localhost)
  // RFC 6454 §4 origin, "scheme://host:port": host in lower case (with its IPv6 zone), the
  // scheme's default port made explicit, so that equal origins compare equal as strings.
  std::string origin;
};

// Parses `url` with libcurl's URL API and applies the https-except-loopback rule; kConfig naming
// `what` (and the URL, query redacted) when the URL is unparsable or breaks the rule.
[[nodiscard]] Result<CheckedUrl> parse_checked_url(std::string_view url, std::string_view what);

// The origin (as CheckedUrl::origin) of an http or https URL, whether or not it passes the
// https-except-loopback rule; nullopt when libcurl cannot parse it, for another scheme, a user
// name, password or options in it, or no host.
[[nodiscard]] std::optional<std::string> url_origin(std::string_view url);

// True for a host string as curl_url_get(CURLUPART_HOST) returns it that is a loopback host:
// a dotted-quad 127.x.y.z, a bracketed IPv6 literal equal to ::1, or `localhost` exactly.
[[nodiscard]] bool is_loopback_host(std::string_view host);

}  // namespace devicelogin::http
