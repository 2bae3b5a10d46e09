#pragma once
// git's credential protocol (gitcredentials(7)), the parts both the full CLI and the
// `devicelogin` executable's fast path need: no Session, no libcurl, only std and Secret.
#include <cstddef>
#include <expected>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "devicelogin/secret.hpp"

namespace devicelogin::cli {

// git's own limit per line is 64 KiB; ours for the whole input.
inline constexpr std::size_t kMaxGitCredentialInput = 64 * 1024;

// "https://host" for a bare host, the URL (without a trailing '/') otherwise; an error (one short
// phrase, without the input) when not an http(s) origin (a path, user:password@, a line break) or
// when it is http for a host that is not a loopback host: git would send the token in clear.
[[nodiscard]] std::expected<std::string, std::string> git_origin_for(const std::string& host);

// True for a host as git writes it in `host=` without its port ("localhost", "127.0.0.1",
// "[::1]"): the project's loopback rule (127.0.0.0/8 as a dotted quad, ::1 in any spelling,
// `localhost` exactly, in any case), as devicelogin::is_loopback_url applies it, without libcurl.
[[nodiscard]] bool git_loopback_host(std::string_view host);

// The key=value lines of `input` up to the first blank line or the end (a trailing '\r' on a line
// is dropped). nullopt, with the reason in `problem`, for a line without '=', an empty key, a NUL
// or more than kMaxGitCredentialInput bytes. Multi-valued keys (capability[], wwwauth[]) are not
// needed here: the last value stands. A password value is moved into `password` (wiping storage)
// instead of the map.
struct GitAttributes {
  std::map<std::string, std::string> values;
  Secret password;
};
[[nodiscard]] std::optional<GitAttributes> parse_git_attributes(std::string_view input, std::string& problem);

// True when `input` already holds the blank line that ends git's attributes, so that a reader can
// stop before end of input.
[[nodiscard]] bool git_attributes_complete(std::string_view input);

// The answer to `get`: "username=U\npassword=TOKEN\n" and, when the expiry is known,
// "password_expiry_utc=SECONDS\n". The username is `configured`, else git's, else x-access-token.
[[nodiscard]] Secret format_git_answer(const std::string& configured_username, const GitAttributes& request,
                                       std::string_view token, std::optional<long long> expires_at);

}  // namespace devicelogin::cli
