#include "oauth/verification.hpp"

#include "devicelogin/advanced/error_builders.hpp"

#include <cstdint>
#include <limits>

#include "core/encoding.hpp"
#include "oauth/providers.hpp"

namespace devicelogin::oauth {
namespace {

// RFC 3492 §5: the Bootstring parameters of Punycode.
constexpr std::uint32_t kBase = 36;
constexpr std::uint32_t kTmin = 1;
constexpr std::uint32_t kTmax = 26;
constexpr std::uint32_t kSkew = 38;
constexpr std::uint32_t kDamp = 700;
constexpr std::uint32_t kInitialBias = 72;
constexpr std::uint32_t kInitialN = 128;

// RFC 3492 §6.1.
std::uint32_t adapt(std::uint32_t delta, std::uint32_t points, bool first) {
  delta = first ? delta / kDamp : delta / 2;
  delta += delta / points;
  std::uint32_t k = 0;
  while (delta > ((kBase - kTmin) * kTmax) / 2) {
    delta /= kBase - kTmin;
    k += kBase;
  }
  return k + (kBase - kTmin + 1) * delta / (delta + kSkew);
}

char punycode_digit(std::uint32_t d) { return static_cast<char>(d < 26 ? 'a' + d : '0' + (d - 26)); }

// ASCII a host name may hold as a browser sends it to DNS: letters, digits, '-', '.', and '_'
// (which DNS allows and some hosts use).
bool host_ascii(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

// One label in its ASCII form: itself when it is ASCII, else "xn--" and its Punycode; nullopt for
// a character a host cannot hold, malformed UTF-8, or an encoding overflow.
std::optional<std::string> ascii_label(std::string_view label, bool& internationalized) {
  std::u32string points;
  bool ascii = true;
  for (std::size_t i = 0; i < label.size();) {
    const auto c = static_cast<unsigned char>(label[i]);
    if (c < 0x80) {
      if (!host_ascii(c)) return std::nullopt;
      points.push_back(c);
      ++i;
      continue;
    }
    auto [point, length] = core::utf8_code_point_at(label, i);
    if (length == 0) return std::nullopt;
    points.push_back(point);
    ascii = false;
    i += length;
  }
  if (ascii) return std::string(label);
  internationalized = true;
  auto encoded = punycode_encode(points);
  if (!encoded) return std::nullopt;
  return "xn--" + *encoded;
}

// True when `host` is one of a preset's space-separated verification hosts ("*.name": any host
// ending in ".name" with at least one label before it).
bool listed(std::string_view host, std::string_view hosts) {
  while (!hosts.empty()) {
    const auto space = hosts.find(' ');
    const std::string_view entry = hosts.substr(0, space);
    hosts = space == std::string_view::npos ? std::string_view{} : hosts.substr(space + 1);
    if (entry.starts_with("*.")) {
      const std::string_view suffix = entry.substr(1);  // ".name"
      if (host.size() > suffix.size() && host.ends_with(suffix) && host[host.size() - suffix.size() - 1] != '.') {
        return true;
      }
    } else if (host == entry) {
      return true;
    }
  }
  return false;
}

// "a, b and c" from a space-separated list.
std::string spoken_list(std::string_view hosts) {
  std::string out;
  while (!hosts.empty()) {
    const auto space = hosts.find(' ');
    const std::string_view entry = hosts.substr(0, space);
    hosts = space == std::string_view::npos ? std::string_view{} : hosts.substr(space + 1);
    if (!out.empty()) out += hosts.empty() ? " or " : ", ";
    out += entry;
  }
  return out;
}

}  // namespace

std::optional<std::string> punycode_encode(std::u32string_view label) {
  // RFC 3492 §6.3, with the overflow checks of §6.4.
  constexpr std::uint32_t kMax = std::numeric_limits<std::uint32_t>::max();
  std::string out;
  for (char32_t c : label) {
    if (c < 0x80) out.push_back(static_cast<char>(c));
  }
  const auto basic = static_cast<std::uint32_t>(out.size());
  std::uint32_t handled = basic;
  if (basic > 0) out.push_back('-');
  std::uint32_t n = kInitialN;
  std::uint32_t delta = 0;
  std::uint32_t bias = kInitialBias;
  while (handled < label.size()) {
    std::uint32_t m = kMax;
    for (char32_t c : label) {
      if (c >= n && c < m) m = c;
    }
    if (m - n > (kMax - delta) / (handled + 1)) return std::nullopt;
    delta += (m - n) * (handled + 1);
    n = m;
    for (char32_t c : label) {
      if (c < n && ++delta == 0) return std::nullopt;
      if (c != n) continue;
      std::uint32_t q = delta;
      for (std::uint32_t k = kBase;; k += kBase) {
        const std::uint32_t t = k <= bias ? kTmin : (k >= bias + kTmax ? kTmax : k - bias);
        if (q < t) break;
        out.push_back(punycode_digit(t + (q - t) % (kBase - t)));
        q = (q - t) / (kBase - t);
      }
      out.push_back(punycode_digit(q));
      bias = adapt(delta, handled + 1, handled == basic);
      delta = 0;
      ++handled;
    }
    ++delta;
    ++n;
  }
  return out;
}

std::optional<UrlHost> url_host(std::string_view url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos || scheme_end == 0) return std::nullopt;
  const std::size_t start = scheme_end + 3;
  // WHATWG URL: for http(s) a backslash ends the authority as '/' does, so
  // "https://github.com\@evil.example" is github.com to a browser, and here.
  const std::string_view authority = url.substr(start, url.find_first_of("/\\?#", start) - start);
  if (authority.find('@') != std::string_view::npos) return std::nullopt;
  std::string_view host = authority;
  if (host.starts_with('[')) {
    const auto close = host.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    const std::string literal = core::ascii_lower(host.substr(0, close + 1));
    if (literal.size() < 4 || literal.find(':') == std::string::npos ||
        literal.find_first_not_of("0123456789abcdef:.", 1) != literal.size() - 1) {
      return std::nullopt;
    }
    return UrlHost{literal, literal, false};
  }
  if (const auto colon = host.rfind(':'); colon != std::string_view::npos) host = host.substr(0, colon);
  // A '+' (decoded as a space) or a malformed escape (kept as '%') leaves a character no host
  // holds, so the label check below refuses it.
  std::string name = core::ascii_lower(core::url_decode(host));
  if (name.ends_with('.')) name.pop_back();  // "github.com." is github.com
  if (name.empty()) return std::nullopt;
  UrlHost out;
  out.unicode = name;
  std::string_view rest = name;
  while (true) {
    const auto dot = rest.find('.');
    const std::string_view label = rest.substr(0, dot);
    if (label.empty()) return std::nullopt;
    auto ascii = ascii_label(label, out.internationalized);
    if (!ascii) return std::nullopt;
    out.ascii += *ascii;
    if (dot == std::string_view::npos) break;
    out.ascii += '.';
    rest = rest.substr(dot + 1);
  }
  return out;
}

Result<VerificationHost> check_verification_host(const Profile& profile, std::string_view verification_uri,
                                                 std::string_view verification_uri_complete) {
  auto host = url_host(verification_uri);
  if (!host) return fail(ErrorCode::kServer, "the verification URI has no host that can be shown; refusing to show it");
  if (!verification_uri_complete.empty()) {
    auto complete_host = url_host(verification_uri_complete);
    if (!complete_host || complete_host->ascii != host->ascii) {
      return fail(ErrorCode::kServer, "verification_uri_complete is not on the host of verification_uri (" + host->ascii +
                                          "); refusing to show either");
    }
  }
  auto host_of = [](const std::string& url) {
    auto found = url_host(url);
    return found ? found->ascii : std::string();
  };
  const std::string issuer_host = host_of(profile.issuer);
  const std::string endpoint_host = host_of(profile.endpoints.device_authorization);
  const bool on_profiles_server = host->ascii == issuer_host || host->ascii == endpoint_host;
  VerificationHost out{host->ascii, {}};
  const ProviderPreset* preset = find_provider(profile.provider);
  if (preset != nullptr && !preset->verification_hosts.empty()) {
    // RFC 8628 §5.4: the page where the user approves is the provider's own; a code for a page
    // elsewhere is not shown, so nobody is led to enter it there.
    if (!on_profiles_server && !listed(host->ascii, preset->verification_hosts)) {
      return fail(ErrorCode::kServer, "the verification page is on " + host->ascii + ", which is not " +
                                          std::string(preset->name) + "'s (" +
                                          spoken_list(preset->verification_hosts) + "); refusing to show its code");
    }
  } else if (!on_profiles_server) {
    const std::string& server_host = issuer_host.empty() ? endpoint_host : issuer_host;
    out.warning = "the verification page is on " + host->ascii + ", not on " + server_host +
                  " (the authorization server's host); approve only if you know that " + host->ascii +
                  " belongs to your sign-in provider";
  }
  if (host->internationalized) {
    if (!out.warning.empty()) out.warning += "; ";
    out.warning += host->ascii + " is an internationalised name (your browser may show it as \"" + host->unicode +
                   "\"), whose letters can imitate another name's";
  }
  return out;
}

}  // namespace devicelogin::oauth
