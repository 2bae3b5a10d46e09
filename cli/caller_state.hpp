#pragma once
// The process as its caller started it, for `exec`, which replaces devicelogin with the command
// and must hand that command what the caller gave devicelogin, not what devicelogin made of it:
// the core limit (the executable lowers it before any secret is read), the descriptors the caller
// passed (`3<file`), the ignored signals and the signal mask.
#include <signal.h>
#include <sys/resource.h>

#include <cstddef>
#include <optional>
#include <vector>

extern "C" {
// What the executable tells its command module, through devicelogin_cli_startup(), before it calls
// devicelogin_cli_main(). Both are built together; `size` guards against a stale half.
struct DeviceloginCliStartup {
  std::size_t size;               // sizeof(DeviceloginCliStartup)
  int core_limit_known;           // 0: core_limit is not set
  struct rlimit core_limit;       // the caller's RLIMIT_CORE, read before the executable lowered it
  int descriptors_known;          // 0: descriptors is not set
  const int* descriptors;         // the descriptors open when the module was about to load, ascending
  std::size_t descriptor_count;   // (the caller's: the executable opened none it kept)
};
}

namespace devicelogin::cli {

// The descriptors open in this process now, ascending (/proc/self/fd; without /proc, every number
// below the descriptor limit, at most 65536, that fcntl knows). Nullopt when neither works.
std::optional<std::vector<int>> open_descriptors();

// Command module only (main.cpp): what the caller gave the process. Filled once, at the module's
// entry (or from the executable's DeviceloginCliStartup, which knows more), before any command runs.
struct CallerState {
  std::optional<rlimit> core_limit;          // nullopt: unknown (the module runs without the executable)
  std::optional<std::vector<int>> descriptors;
  sigset_t ignored{};                        // the signals whose disposition was SIG_IGN
  sigset_t blocked{};                        // the signal mask
};
const CallerState& caller_state();

}  // namespace devicelogin::cli
