#pragma once
// The login command's core, shared with `demo`.
#include "devicelogin/session.hpp"

namespace devicelogin::cli {

struct LoginArgs {
  LoginSettings settings;
  bool no_browser = false;
  bool no_qr = false;
  bool quiet = false;  // only what approving needs, warnings and errors
  bool json = false;
  bool verbose = false;
  std::string store;  // --store; empty keeps the saved profile's store (auto for a new profile)
};

// Runs `devicelogin login` with these arguments and returns its exit code.
int run_login(LoginArgs& args);

}  // namespace devicelogin::cli
