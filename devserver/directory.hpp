#pragma once
// Who the server knows: its clients and its demo users, from the options and the config file.
#include <string>
#include <unordered_map>

#include "devicelogin/result.hpp"
#include "devserver/server.hpp"

namespace devicelogin::devserver {

struct Directory {
  std::unordered_map<std::string, ClientSpec> clients;  // by client_id
  std::unordered_map<std::string, UserSpec> users;      // by username
  std::string first_user;                               // who auto-approval signs in as
  bool demo_users = false;                              // alice and bob, as nobody declared a user

  // The client's display name: its `name`, or its id when it has none or is unknown.
  [[nodiscard]] std::string client_name(const std::string& client_id) const;
  // The user's display name: their `name`, or the username when they have none or are unknown.
  [[nodiscard]] std::string user_name(const std::string& username) const;
};

// The built-in demo client, the options' clients and users, and the config file's (which add
// clients and replace users); alice and bob when nobody declares a user. kConfig when the file
// cannot be read, a client or user is declared twice, or an entry lacks its id or password.
[[nodiscard]] Result<Directory> build_directory(const ServerOptions& options);

}  // namespace devicelogin::devserver
