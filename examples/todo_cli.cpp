// todo_cli: a toy CLI that adds "sign in with your browser" with libdevicelogin, keeps the
// session between runs, and calls an API with a token that refreshes itself.
//   todo_cli login ISSUER     sign in (device flow) and remember the session
//   todo_cli whoami           call the server's userinfo endpoint as the signed-in user
#include <cstdio>
#include <string>
#include <string_view>

#include "devicelogin/session.hpp"

using namespace devicelogin;

static int failed(const Error& error) {
  std::fprintf(stderr, "todo_cli: %s\n", error.message.c_str());
  return exit_code_for(error.code);
}

int main(int argc, char** argv) {
  std::string command = argc > 1 ? argv[1] : "";
  if (!(command == "login" && argc == 3) && !(command == "whoami" && argc == 2)) {
    std::fprintf(stderr, "usage: todo_cli login ISSUER | todo_cli whoami\n");
    return 2;
  }
  auto http = make_curl_http_client({});
  SystemClock clock;
  auto profiles = ProfileStore::from_environment();
  if (!profiles) return failed(profiles.error());
  Result<Profile> profile = command == "login"
      ? prepare_profile({.profile = "todo", .issuer = argv[2], .client_id = "devicelogin-demo",
                         .scope = "openid profile offline_access"}, *http)
      : profiles->load("todo");
  if (!profile) return failed(profile.error());
  auto store = open_token_store(profile->store);
  if (!store) return failed(store.error());
  Session session(*profile, std::move(*store), *http, clock);

  if (command == "login") {
    LoginObserver observer;
    observer.on_code = [](const DeviceCodePrompt& prompt) {
      std::fprintf(stderr, "Open %s and enter %s\n", prompt.verification_uri.c_str(), prompt.user_code.c_str());
    };
    auto info = session.login(observer);
    if (!info) return failed(info.error());
    if (auto saved = profiles->save(*profile); !saved) return failed(saved.error());
    std::fprintf(stderr, "Signed in as %s\n", info->subject.c_str());
    return 0;
  }
  auto response = session.fetch({.method = "GET", .url = profile->endpoints.userinfo, .headers = {}, .body = {}});
  if (!response) return failed(response.error());
  const std::string_view body = response->body.reveal();
  std::printf("HTTP %d %.*s\n", response->status, static_cast<int>(body.size()), body.data());
  return response->status == 200 ? 0 : 1;
}
