// Threads of one process racing on one expiring token, each with its own Session and HTTP client
// on the same profile and file store, against a real dev server that rotates refresh tokens and
// revokes the grant on reuse: the per-profile lock lets exactly one of them refresh, and every
// thread gets that one new token. The in-process twin of the integration race (32 processes);
// the ThreadSanitizer preset runs it (scripts/deep-checks.sh).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <latch>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "devicelogin/advanced/token_store.hpp"
#include "devicelogin/session.hpp"
#include "test_server.hpp"

namespace devicelogin {
namespace {

TEST(SessionRace, ThreadsSharingAnExpiringTokenRefreshItOnce) {
  std::mutex log_mutex;
  std::vector<std::string> server_log;
  devserver::ServerOptions options;
  options.interval = 1;  // the first poll comes after one interval
  options.auto_approve_delay = 0.0;
  options.access_token_ttl = 3600;
  options.log = [&](std::string_view line) {
    std::lock_guard lock(log_mutex);
    server_log.emplace_back(line);
  };
  auto server = devserver::testing::start(std::move(options));
  ASSERT_NE(server, nullptr);

  auto directory = std::filesystem::temp_directory_path() / ("devicelogin-session-race-" + std::to_string(::getpid()));
  std::filesystem::create_directories(directory);
  std::filesystem::permissions(directory, std::filesystem::perms::owner_all);
  struct Cleanup {
    std::filesystem::path path;
    ~Cleanup() { std::filesystem::remove_all(path); }
  } cleanup{directory};

  // The file store keeps its tokens under XDG_STATE_HOME: set before any thread starts.
  ::setenv("XDG_STATE_HOME", directory.c_str(), 1);  // NOLINT(concurrency-mt-unsafe): no thread yet
  SessionOptions session_options;
  session_options.profile_directory = (directory / "profiles").string();
  LoginSettings settings;
  settings.profile = "race";
  settings.issuer = server->issuer();
  settings.client_id = std::string(devserver::kDemoClientId);
  settings.scope = "openid offline_access";
  settings.store = "file";
  {
    auto first = Session::open("race", session_options);
    ASSERT_TRUE(first) << first.error().message;
    auto signed_in = first->login(settings, {});
    ASSERT_TRUE(signed_in) << signed_in.error().message;
  }

  // The stored access token now expires in 10 s: inside every thread's 60 s minimum lifetime, so
  // each would refresh if the lock did not make the later ones see the first one's new set.
  SystemClock clock;
  auto store = make_file_token_store((directory / "devicelogin" / "tokens").string());
  auto stored = store->load("race");
  ASSERT_TRUE(stored && *stored);
  TokenSet expiring = std::move(**stored);
  const std::string original(expiring.access_token.reveal());
  expiring.expires_at = to_unix(clock.now()) + 10;
  ASSERT_TRUE(store->save("race", expiring));

  constexpr int kThreads = 8;
  std::latch start(kThreads);
  std::vector<std::string> tokens(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto session = Session::open("race", session_options);
      start.arrive_and_wait();
      Result<AccessToken> token = session ? session->access_token(60) : Result<AccessToken>(std::unexpected(session.error()));
      if (token) {
        tokens[static_cast<std::size_t>(i)] = token->reveal();
      } else {
        errors[static_cast<std::size_t>(i)] = token.error().message;
      }
    });
  }
  for (auto& thread : threads) thread.join();

  for (int i = 0; i < kThreads; ++i) EXPECT_EQ(errors[static_cast<std::size_t>(i)], "") << "thread " << i;
  std::set<std::string> distinct(tokens.begin(), tokens.end());
  // Compared as a count and a flag, so that no token reaches the test's output.
  EXPECT_EQ(distinct.size(), 1U) << "threads got different tokens: more than one refresh was sent";
  EXPECT_EQ(distinct.count(original), 0U) << "a thread got the expiring token instead of the refreshed one";
  std::lock_guard lock(log_mutex);
  for (const auto& line : server_log) EXPECT_EQ(line.find("reuse detected"), std::string::npos) << line;
}

}  // namespace
}  // namespace devicelogin
