#pragma once
// Every program the CLI starts, in one place: programs it runs and reads (git, kubectl), the
// browser it starts and leaves running, the lookups on PATH (xdg-open, docker's helper), and the
// user's command that `exec` replaces devicelogin with. No shell anywhere:
// argv is given as words, and no secret is ever one of them (secrets go through stdin or the
// environment of `exec`).
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace devicelogin::cli {

struct ProgramRun {
  int status = -1;         // its exit status; -1 when it could not be run, was killed or timed out
  bool timed_out = false;  // it was still running at the deadline (killed)
  std::string out;         // its stdout, at most max_output bytes
  std::string err;         // its stderr, likewise
};

// Runs `program ARGS...` (found on PATH, no shell) with `input` on its stdin (then closed) and its
// stdout and stderr captured, and waits for it: killed when it has not finished `deadline` after
// it started. Descriptors other than the three are not inherited (everything here is CLOEXEC).
[[nodiscard]] ProgramRun run_program(const std::string& program, const std::vector<std::string>& args,
                                     std::string_view input, std::chrono::seconds deadline, std::size_t max_output);

// The file `name` resolves to on $PATH, as execvp would find it; empty when there is none.
[[nodiscard]] std::string find_on_path(std::string_view name);

// Starts `program` with `argument` and the environment `environment` (NAME=VALUE entries), its
// stdin, stdout and stderr on /dev/null, no other descriptor, default signal dispositions and an
// empty mask, and does not wait for it (it is a grandchild adopted by init; the process-wide
// SIGCHLD disposition is left alone). Best effort: nothing is reported.
void start_detached(const std::string& program, const std::string& argument, std::vector<std::string> environment);

// Replaces this process with `argv[0]` (searched on PATH as execvp does), given `argv` and `envp`,
// with the process as the caller gave it (caller_state.hpp): the core limit, the ignored signals
// (every other disposition at its default), every descriptor the caller did not pass marked
// close-on-exec, and last the signal mask. Returns the errno of the failed exec.
[[nodiscard]] int replace_process_with(char** argv, char** envp);

}  // namespace devicelogin::cli
