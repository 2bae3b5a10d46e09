#include "git_protocol.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

namespace devicelogin::cli {

bool git_loopback_host(std::string_view host) {
  std::string lower(host);
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  // Only `localhost` itself: nothing guarantees that a resolver maps *.localhost to loopback.
  if (lower == "localhost") return true;
  if (lower.size() > 2 && lower.front() == '[' && lower.back() == ']') {
    in6_addr address{};
    const std::string literal = lower.substr(1, lower.size() - 2);
    return inet_pton(AF_INET6, literal.c_str(), &address) == 1 && IN6_IS_ADDR_LOOPBACK(&address);
  }
  // A strict dotted quad only (git passes the host as the URL spelled it; 127.1 or 0x7f.1 would
  // need libcurl's normalisation to be recognised, and are refused instead).
  in_addr address{};
  return inet_pton(AF_INET, lower.c_str(), &address) == 1 && (ntohl(address.s_addr) >> 24) == 127;
}

std::expected<std::string, std::string> git_origin_for(const std::string& host) {
  std::string scheme = "https://";
  std::string rest = host;
  for (const char* known : {"https://", "http://"}) {
    if (rest.starts_with(known)) {
      scheme = known;
      rest.erase(0, scheme.size());
      break;
    }
  }
  // Only the authority's trailing slashes go ("https://" alone names no host).
  while (rest.ends_with('/')) rest.pop_back();
  if (rest.empty() || rest.find_first_of("/@?# \t\r\n") != std::string::npos) {
    return std::unexpected("needs a host or an http(s) origin");
  }
  if (scheme == "http://") {
    // The https-except-loopback rule of every other URL: git sends the password in clear over http.
    std::string_view name = rest;
    std::string_view port;
    if (name.starts_with('[')) {
      const std::size_t close = name.find(']');
      if (close != std::string_view::npos && close + 1 < name.size()) {
        if (name[close + 1] != ':') return std::unexpected("needs a host or an http(s) origin");
        port = name.substr(close + 2);
        name = name.substr(0, close + 1);
      }
    } else if (const std::size_t colon = name.find(':'); colon != std::string_view::npos) {
      port = name.substr(colon + 1);
      name = name.substr(0, colon);
    }
    if (port.find_first_not_of("0123456789") != std::string_view::npos) return std::unexpected("needs a host or an http(s) origin");
    if (!git_loopback_host(name)) {
      return std::unexpected("must be https (plain http is allowed only for loopback hosts: 127.0.0.0/8, localhost, [::1])");
    }
  }
  return scheme + rest;
}

bool git_attributes_complete(std::string_view input) {
  return input.starts_with('\n') || input.starts_with("\r\n") || input.find("\n\n") != std::string_view::npos ||
         input.find("\n\r\n") != std::string_view::npos;
}

std::optional<GitAttributes> parse_git_attributes(std::string_view input, std::string& problem) {
  if (input.size() > kMaxGitCredentialInput) {
    problem = "more than 64 KiB of input";
    return std::nullopt;
  }
  GitAttributes attributes;
  while (!input.empty()) {
    const std::size_t end = input.find('\n');
    std::string_view line = input.substr(0, end);
    input = end == std::string_view::npos ? std::string_view() : input.substr(end + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.empty()) break;
    if (line.find('\0') != std::string_view::npos) {
      problem = "malformed input line (NUL)";
      return std::nullopt;
    }
    const std::size_t equals = line.find('=');
    if (equals == std::string_view::npos || equals == 0) {
      problem = "malformed input line (expected key=value)";
      return std::nullopt;
    }
    const std::string_view key = line.substr(0, equals);
    const std::string_view value = line.substr(equals + 1);
    if (key == "password") {
      attributes.password = Secret(value);
    } else {
      attributes.values[std::string(key)] = std::string(value);
    }
  }
  return attributes;
}

Secret format_git_answer(const std::string& configured_username, const GitAttributes& request,
                         std::string_view token, std::optional<long long> expires_at) {
  std::string username = configured_username;
  if (auto it = request.values.find("username"); username.empty() && it != request.values.end()) username = it->second;
  if (username.empty()) username = "x-access-token";
  Secret out;
  out.reserve(username.size() + token.size() + 64);
  out.append("username=");
  out.append(username);
  out.append("\npassword=");
  out.append(token);
  out.append("\n");
  if (expires_at) out.append("password_expiry_utc=" + std::to_string(*expires_at) + "\n");
  return out;
}

}  // namespace devicelogin::cli
