// devicelogin-cli, the full CLI: the `devicelogin` executable execve()s it, with the caller's argv
// (argv[0] included, so the docker helper's name still counts) and environment, for everything its
// fast paths do not answer. It starts as the caller left the process: `devicelogin` has put back
// the soft core limit it lowered and keeps no descriptor across the exec (git's and docker's
// input, already read, is put back as standard input on purpose).
#include <vector>

#include "caller_state.hpp"
#include "process_start.hpp"

extern "C" int devicelogin_cli_main(int argc, char** argv);

int main(int argc, char** argv) {
  // What the caller gave the process, for `exec`, before this process changes any of it.
  devicelogin::cli::note_caller_state();
  (void)devicelogin::cli::harden_process();
  std::vector<char*> storage;
  char** command = devicelogin::cli::command_argv(argc, argv, storage);
  return devicelogin_cli_main(argc, command);
}
