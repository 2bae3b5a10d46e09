// Test helper for store_torture_test: a process for the test to SIGKILL.
//
//   store_torture save STORE PROFILE          writes 'R' on stdout once the store is open, then
//                                             saves set A, B, A, ... forever, writing the letter
//                                             of each set after its save returned.
//   store_torture lock STORE PROFILE HOLD_MS  takes the profile's lock (10 s timeout), writes 'L',
//                                             holds it HOLD_MS ms (-1: until killed), writes 'U'
//                                             just before releasing it, exits 0.
//
// The store's location comes from the environment (HOME, XDG_STATE_HOME), as for the CLI.
// Exit 2 on bad arguments, 1 when the store fails (message on stderr, no secrets).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "devicelogin/advanced/token_store.hpp"
#include "torture_sets.hpp"

namespace {

using namespace devicelogin;

bool tell(char c) { return ::write(STDOUT_FILENO, &c, 1) == 1; }

int fail_with(const std::string& what, const Error& error) {
  std::fprintf(stderr, "store_torture: %s: %s\n", what.c_str(), error.message.c_str());
  return 1;
}

int run_save(TokenStore& store, const std::string& profile) {
  const TokenSet sets[2] = {torture::make_set('A'), torture::make_set('B')};
  if (!tell('R')) return 1;
  for (unsigned i = 0;; ++i) {
    const TokenSet& tokens = sets[i % 2];
    if (auto saved = store.save(profile, tokens); !saved) return fail_with("save", saved.error());
    if (!tell(i % 2 == 0 ? 'A' : 'B')) return 1;
  }
}

int run_lock(TokenStore& store, const std::string& profile, long hold_ms) {
  auto lock = store.lock(profile, std::chrono::seconds(10));
  if (!lock) return fail_with("lock", lock.error());
  if (!tell('L')) return 1;
  if (hold_ms < 0) {
    for (;;) ::pause();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(hold_ms));
  // Still held here: a waiter that sees the lock must already be able to read this 'U'.
  if (!tell('U')) return 1;
  *lock = StoreLock();  // released here (the old lock's destructor closes its descriptor)
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: store_torture save STORE PROFILE | lock STORE PROFILE HOLD_MS\n");
    return 2;
  }
  const std::string mode = argv[1];
  auto store = open_token_store(argv[2]);
  if (!store) return fail_with("open", store.error());
  if (mode == "save" && argc == 4) return run_save(**store, argv[3]);
  if (mode == "lock" && argc == 5) return run_lock(**store, argv[3], std::strtol(argv[4], nullptr, 10));
  std::fprintf(stderr, "store_torture: bad arguments\n");
  return 2;
}
