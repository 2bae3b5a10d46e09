#include "http/url_policy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string>

#include "core/encoding.hpp"
#include "devicelogin/advanced/error_builders.hpp"
#include "devicelogin/http_client.hpp"
#include "devicelogin/sanitize.hpp"

namespace devicelogin::http {
namespace {

constexpr std::size_t kMaxShownUrl = 200;

struct CurlString {
  char* text = nullptr;
  CurlString() = default;
  CurlString(const CurlString&) = delete;
  CurlString& operator=(const CurlString&) = delete;
  ~CurlString() { curl_free(text); }
};

// One component of a parsed URL; nullopt-like empty string plus `present` when curl reports none.
struct Part {
  bool present = false;
  std::string value;
};

Part get_part(CURLU* url, CURLUPart which, unsigned int flags = 0) {
  CurlString part;
  if (curl_url_get(url, which, &part.text, flags) != CURLUE_OK || part.text == nullptr) return {};
  return Part{true, part.text};
}

// The URL as it may appear in a message: no userinfo, the query and fragment replaced wholesale
// (they may carry codes or tokens under names no list knows), control characters removed,
// bounded length.
std::string shown_url(std::string_view text) {
  std::string shown(text);
  auto scheme_end = shown.find("://");
  std::size_t authority_start = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  auto authority_end = shown.find_first_of("/?#", authority_start);
  auto at = shown.rfind('@', authority_end == std::string::npos ? shown.npos : authority_end);
  if (at != std::string::npos && at >= authority_start) {
    shown.replace(authority_start, at + 1 - authority_start, "[REDACTED]@");
  }
  auto query = shown.find_first_of("?#");
  if (query != std::string::npos) shown.replace(query, shown.npos, "?[REDACTED]");
  shown = sanitize_text(shown);
  if (shown.size() > kMaxShownUrl) shown = shown.substr(0, kMaxShownUrl) + "...";
  return shown;
}

std::string label(std::string_view what) { return what.empty() ? std::string("URL") : std::string(what); }

// RFC 6454 §4 origin of a parsed URL whose scheme (lower case) and host are known: the host in
// lower case with its IPv6 zone (another zone is another link), the default port made explicit.
std::string origin_of(CURLU* url, const std::string& scheme, const std::string& host) {
  std::string origin = scheme + "://" + core::ascii_lower(host);
  if (Part zone = get_part(url, CURLUPART_ZONEID); zone.present && !zone.value.empty() && origin.ends_with(']')) {
    origin.insert(origin.size() - 1, "%25" + zone.value);
  }
  return origin + ":" + get_part(url, CURLUPART_PORT, CURLU_DEFAULT_PORT).value;
}

}  // namespace

bool is_loopback_host(std::string_view host) {
  // Only `localhost` itself: RFC 6761 reserves *.localhost, but nothing guarantees that a resolver
  // maps those names to loopback (libcurl 7.88 does not), and a trailing dot sends the name to DNS.
  if (core::ascii_lower(host) == "localhost") return true;
  std::string literal(host);
  if (literal.size() > 2 && literal.front() == '[' && literal.back() == ']') {
    // IPv6: only ::1 in any spelling. IPv4-mapped forms (::ffff:127.0.0.1) are refused on purpose:
    // the policy names 127.0.0.0/8 and ::1, and nobody needs to spell loopback that way.
    in6_addr address{};
    if (inet_pton(AF_INET6, literal.substr(1, literal.size() - 2).c_str(), &address) != 1) return false;
    return IN6_IS_ADDR_LOOPBACK(&address);
  }
  // IPv4: libcurl has already normalised hex, octal and short forms (0x7f.1, 2130706433, 127.1)
  // into a dotted quad, so only a strict dotted quad in 127.0.0.0/8 counts.
  in_addr address{};
  if (inet_pton(AF_INET, literal.c_str(), &address) != 1) return false;
  return (ntohl(address.s_addr) >> 24) == 127;
}

Result<CheckedUrl> parse_checked_url(std::string_view url, std::string_view what) {
  const std::string name = label(what);
  if (url.empty()) return fail(ErrorCode::kConfig, name + " is not set");
  CurlUrlPtr handle(curl_url());
  if (!handle) return fail(ErrorCode::kInternal, "out of memory parsing " + name);
  const std::string text(url);
  // No CURLU_DEFAULT_SCHEME / CURLU_GUESS_SCHEME: a URL without a scheme is an error, not http.
  CURLUcode parsed = curl_url_set(handle.get(), CURLUPART_URL, text.c_str(), 0);
  if (parsed != CURLUE_OK) {
    return fail(ErrorCode::kConfig, name + " is not a valid URL (" + curl_url_strerror(parsed) +
                                        "): " + shown_url(url));
  }
  CheckedUrl checked;
  checked.scheme = core::ascii_lower(get_part(handle.get(), CURLUPART_SCHEME).value);
  if (checked.scheme != "https" && checked.scheme != "http") {
    return fail(ErrorCode::kConfig,
                name + " must use https (plain http is allowed only for loopback hosts): " + shown_url(url));
  }
  if (get_part(handle.get(), CURLUPART_USER).present || get_part(handle.get(), CURLUPART_PASSWORD).present ||
      get_part(handle.get(), CURLUPART_OPTIONS).present) {
    return fail(ErrorCode::kConfig, name + " must not contain a user name or password: " + shown_url(url));
  }
  Part host = get_part(handle.get(), CURLUPART_HOST);
  if (!host.present || host.value.empty()) {
    return fail(ErrorCode::kConfig, name + " has no host: " + shown_url(url));
  }
  checked.loopback = is_loopback_host(host.value);
  if (checked.scheme == "http" && !checked.loopback) {
    return fail(ErrorCode::kConfig,
                name + " must use https (plain http is allowed only for loopback hosts): " + shown_url(url));
  }
  checked.authority = sanitize_text(host.value);
  Part port = get_part(handle.get(), CURLUPART_PORT);
  if (port.present) checked.authority += ":" + port.value;
  checked.origin = origin_of(handle.get(), checked.scheme, host.value);
  checked.handle = std::move(handle);
  return checked;
}

std::optional<std::string> url_origin(std::string_view url) {
  CurlUrlPtr handle(curl_url());
  if (!handle) return std::nullopt;
  const std::string text(url);
  if (curl_url_set(handle.get(), CURLUPART_URL, text.c_str(), 0) != CURLUE_OK) return std::nullopt;
  const std::string scheme = core::ascii_lower(get_part(handle.get(), CURLUPART_SCHEME).value);
  if (scheme != "https" && scheme != "http") return std::nullopt;
  if (get_part(handle.get(), CURLUPART_USER).present || get_part(handle.get(), CURLUPART_PASSWORD).present ||
      get_part(handle.get(), CURLUPART_OPTIONS).present) {
    return std::nullopt;
  }
  Part host = get_part(handle.get(), CURLUPART_HOST);
  if (!host.present || host.value.empty()) return std::nullopt;
  return origin_of(handle.get(), scheme, host.value);
}

}  // namespace devicelogin::http

namespace devicelogin {

bool is_loopback_url(std::string_view url) {
  auto checked = http::parse_checked_url(url, "a URL");
  return checked && checked->loopback;
}

Result<void> check_url_policy(std::string_view url, std::string_view what) {
  auto checked = http::parse_checked_url(url, what);
  if (!checked) return std::unexpected(std::move(checked.error()));
  return {};
}

}  // namespace devicelogin
