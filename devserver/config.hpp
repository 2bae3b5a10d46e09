#pragma once
// The `--config FILE` format: {"clients": [...], "users": [...]}; a client is
// {client_id, client_secret?, name?, scopes?, redirect_uris?}.
#include <string>
#include <string_view>
#include <vector>

#include "devicelogin/result.hpp"
#include "devserver/server.hpp"

namespace devicelogin::devserver {

// What a config file declares.
struct ConfigFile {
  std::vector<ClientSpec> clients;
  std::vector<UserSpec> users;
};

// Parses a config file's text; kConfig naming the first problem (never a secret's value).
[[nodiscard]] Result<ConfigFile> parse_config(std::string_view text);
// Reads and parses the file at `path`; kConfig when it cannot be read or parsed.
[[nodiscard]] Result<ConfigFile> load_config(const std::string& path);
// True for a syntactically valid scope token (RFC 6749 §3.3: %x21 / %x23-5B / %x5D-7E).
[[nodiscard]] bool valid_scope_token(std::string_view token);

}  // namespace devicelogin::devserver
