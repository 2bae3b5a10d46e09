#include "devicelogin/advanced/error_builders.hpp"
#include "directory.hpp"

#include <vector>

#include "config.hpp"

namespace devicelogin::devserver {

std::string Directory::client_name(const std::string& client_id) const {
  auto it = clients.find(client_id);
  if (it == clients.end() || it->second.name.empty()) return client_id;
  return it->second.name;
}

std::string Directory::user_name(const std::string& username) const {
  auto it = users.find(username);
  if (it == users.end() || it->second.name.empty()) return username;
  return it->second.name;
}

Result<Directory> build_directory(const ServerOptions& options) {
  Directory directory;
  ClientSpec demo;
  demo.client_id = std::string(kDemoClientId);
  demo.name = "devicelogin demo";
  for (std::string_view uri : kDemoRedirectUris) demo.redirect_uris.emplace_back(uri);
  directory.clients.emplace(demo.client_id, demo);
  std::vector<UserSpec> users = options.users;
  std::vector<ClientSpec> extra = options.clients;
  if (!options.config_file.empty()) {
    auto config = load_config(options.config_file);
    if (!config) return std::unexpected(config.error());
    for (auto& client : config->clients) extra.push_back(std::move(client));
    if (!config->users.empty()) users = std::move(config->users);
  }
  for (auto& client : extra) {
    if (client.client_id.empty()) return fail(ErrorCode::kConfig, "a client has an empty client_id");
    std::string id = client.client_id;
    if (id == kDemoClientId) {
      directory.clients[id] = std::move(client);  // a declared demo client replaces the built-in one
    } else if (!directory.clients.emplace(id, std::move(client)).second) {
      return fail(ErrorCode::kConfig, "client " + id + " is declared twice");
    }
  }
  if (users.empty()) {
    directory.demo_users = true;
    users.push_back(UserSpec{"alice", Secret(std::string_view("alice")), "Alice Example"});
    users.push_back(UserSpec{"bob", Secret(std::string_view("bob")), "Bob Example"});
  }
  directory.first_user = users.front().username;
  for (auto& user : users) {
    std::string name = user.username;
    if (name.empty() || user.password.empty()) {
      return fail(ErrorCode::kConfig, "every user needs a username and a password");
    }
    if (!directory.users.emplace(name, std::move(user)).second) {
      return fail(ErrorCode::kConfig, "user " + name + " is declared twice");
    }
  }
  return directory;
}

}  // namespace devicelogin::devserver
