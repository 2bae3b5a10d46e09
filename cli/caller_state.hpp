#pragma once
// The process as its caller started it, for `exec`, which replaces devicelogin with the command
// and must hand that command what the caller gave devicelogin, not what devicelogin made of it:
// the core limit (lowered before any secret is read), the descriptors the caller passed
// (`3<file`), the ignored signals and the signal mask. The `devicelogin` executable changes none
// of these for good before it execs the full CLI (it puts the soft core limit back, and its own
// descriptors are closed or close-on-exec), so the full CLI reads them at its own start.
#include <signal.h>
#include <sys/resource.h>

#include <optional>
#include <vector>

namespace devicelogin::cli {

// The descriptors open in this process now, ascending (/proc/self/fd; without /proc, every number
// below the descriptor limit, at most 65536, that fcntl knows). Nullopt when neither works.
std::optional<std::vector<int>> open_descriptors();

// What the caller gave the process, noted once (main.cpp) before any command changes anything.
struct CallerState {
  std::optional<rlimit> core_limit;          // nullopt: it could not be read
  std::optional<std::vector<int>> descriptors;
  sigset_t ignored{};                        // the signals whose disposition was SIG_IGN
  sigset_t blocked{};                        // the signal mask
};
const CallerState& caller_state();

// Notes the caller's state (only the first call does anything). devicelogin-cli's main() calls
// it first of all, before it lowers the core limit; devicelogin_cli_main calls it too.
void note_caller_state();

}  // namespace devicelogin::cli
