#pragma once
// Sessions for tests, made as adopters make them (Session::open), over the test's own HTTP client
// and clock.
#include <stdlib.h>

#include <memory>
#include <string>

#include "devicelogin/advanced/profile_store.hpp"
#include "devicelogin/session.hpp"

namespace devicelogin::testing {

// Where a test's file store keeps tokens once use_state_directory(directory) was called.
[[nodiscard]] inline std::string tokens_directory(const std::string& directory) {
  return directory + "/state/devicelogin/tokens";
}

// Points the file store at `directory`/state (XDG_STATE_HOME). Each ctest runs one test in its
// own process (gtest_discover_tests), so the environment is the test's; call it before threads.
inline void use_state_directory(const std::string& directory) {
  ::setenv("XDG_STATE_HOME", (directory + "/state").c_str(), 1);  // NOLINT(concurrency-mt-unsafe): before any thread
}

// SessionOptions with `http` and `clock`, which the test owns and which outlive the session, and
// profiles under `directory`/profiles.
[[nodiscard]] inline SessionOptions session_options(const std::string& directory, HttpClient& http, Clock& clock) {
  SessionOptions options;
  options.http = std::shared_ptr<HttpClient>(std::shared_ptr<void>(), &http);  // not owned
  options.clock = std::shared_ptr<Clock>(std::shared_ptr<void>(), &clock);
  options.profile_directory = directory + "/profiles";
  return options;
}

// `profile` saved under `directory`/profiles, then opened: a Session whose login(observer) signs
// it in again and whose tokens live in the file store under tokens_directory(directory) (its
// store must be "file"; use_state_directory(directory) must have been called).
[[nodiscard]] inline Result<Session> open_saved_session(const Profile& profile, const std::string& directory,
                                                        HttpClient& http, Clock& clock) {
  SessionOptions options = session_options(directory, http, clock);
  if (auto saved = ProfileStore(options.profile_directory).save(profile); !saved) return std::unexpected(saved.error());
  return Session::open(profile.name, std::move(options));
}

}  // namespace devicelogin::testing
