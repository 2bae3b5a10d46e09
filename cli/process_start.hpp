#pragma once
// The first steps of both executables, `devicelogin` (fast_main.cpp) and devicelogin-cli
// (cli_main.cpp): header-only, since the static `devicelogin` links no object of the full CLI.
#include <sys/prctl.h>
#include <sys/resource.h>

#include <optional>
#include <string_view>
#include <vector>

namespace devicelogin::cli {

// Before any secret is read: no core dumps, not ptrace-attachable by other same-user processes.
// Only the soft core limit is lowered: `exec` (and the hand-off from `devicelogin` to
// devicelogin-cli) gives the caller's limit back, which a lowered hard limit would forbid (the
// process is not dumpable either way). Returns the caller's limit, or nullopt when it cannot be read.
inline std::optional<rlimit> harden_process() {
  std::optional<rlimit> caller;
  if (rlimit limit{}; ::getrlimit(RLIMIT_CORE, &limit) == 0) caller = limit;
  const rlimit no_core{0, caller ? caller->rlim_max : 0};
  ::setrlimit(RLIMIT_CORE, &no_core);
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  return caller;
}

// Run as docker-credential-devicelogin (the symlink docker runs as its credential helper),
// `docker-credential-devicelogin OP` is `devicelogin docker-credential OP`: the argv to parse, in
// `storage` (which must outlive it). Any other name: argv as given.
inline char** command_argv(int& argc, char** argv, std::vector<char*>& storage) {
  std::string_view invoked_as = argc > 0 ? argv[0] : "";
  invoked_as = invoked_as.substr(invoked_as.rfind('/') + 1);
  if (invoked_as != "docker-credential-devicelogin") return argv;
  static char subcommand[] = "docker-credential";
  storage.assign(argv, argv + argc);
  storage.insert(storage.begin() + 1, subcommand);
  storage.push_back(nullptr);
  argc += 1;
  return storage.data();
}

}  // namespace devicelogin::cli
