// todo_cli: "sign in with your browser" for a CLI, with libdevicelogin's facade (docs/library.md).
//   todo_cli login ISSUER | todo_cli whoami | todo_cli logout
#include <cstdio>
#include <string>

#include "devicelogin/session.hpp"
using namespace devicelogin;

static int failed(const Error& error) {
  std::fprintf(stderr, "todo_cli: %s\n", error.message.c_str());  // remedy: see docs/library.md
  return exit_code_for(error.code);
}

int main(int argc, char** argv) {
  const std::string command = argc > 1 ? argv[1] : "";
  auto session = Session::open("todo");
  if (!session) return failed(session.error());
  if (command == "login" && argc == 3) {
    LoginObserver show;
    show.on_code = [](auto& p) { std::fprintf(stderr, "Open %s, enter %s\n", p.verification_uri.c_str(), p.user_code.c_str()); };
    auto signed_in = session->login({.issuer = argv[2], .client_id = "devicelogin-demo"}, show);
    return signed_in ? 0 : failed(signed_in.error());
  }
  if (command == "logout" && argc == 2) return session->logout() ? 0 : 1;
  if (command != "whoami" || argc != 2) return std::fprintf(stderr, "usage: todo_cli login ISSUER|whoami|logout\n"), 2;
  auto response = session->get(session->profile().endpoints.userinfo);
  if (!response) return failed(response.error());
  std::printf("HTTP %d %s\n", response->status, std::string(response->body.reveal()).c_str());
  return response->status == 200 ? 0 : 1;
}
