#include "git_protocol.hpp"

namespace devicelogin::cli {

std::optional<std::string> git_origin_for(const std::string& host) {
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
  if (rest.empty() || rest.find_first_of("/@?# \t\r\n") != std::string::npos) return std::nullopt;
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
