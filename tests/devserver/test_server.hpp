#pragma once
// Starts an in-process dev server on 127.0.0.1 and an ephemeral port for a test; null (with a
// test failure recorded) when it cannot start. Optionally on a ServerClock the test advances.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>

#include "devicelogin/clock.hpp"
#include "devserver/server.hpp"

namespace devicelogin::devserver::testing {

// Manual time for a running server: the test advances it while server threads (handlers, the
// sweeper) read it, so unlike testing/fakes.hpp's FakeClock it is safe across threads. Sleeping
// jumps to the deadline, as FakeClock's does (the server never sleeps on its clock).
class ServerClock final : public Clock {
 public:
  explicit ServerClock(long long unix_seconds = 1'800'000'000) : ticks_(from_unix(unix_seconds).time_since_epoch().count()) {}
  [[nodiscard]] SystemTime now() const override { return SystemTime(SystemTime::duration(ticks_.load())); }
  bool sleep_until(SystemTime deadline) override {
    auto target = deadline.time_since_epoch().count();
    auto current = ticks_.load();
    while (current < target && !ticks_.compare_exchange_weak(current, target)) {
    }
    return true;
  }
  template <class Rep, class Period>
  void advance(std::chrono::duration<Rep, Period> by) {
    ticks_ += std::chrono::duration_cast<SystemTime::duration>(by).count();
  }

 private:
  std::atomic<SystemTime::rep> ticks_;
};

inline std::unique_ptr<Server> start(ServerOptions options = {}, const Clock* clock = nullptr) {
  options.host = "127.0.0.1";
  options.port = 0;
  auto server = clock != nullptr ? Server::start(std::move(options), *clock) : Server::start(std::move(options));
  if (!server) {
    ADD_FAILURE() << "start failed: " << server.error().message;
    return nullptr;
  }
  return std::move(*server);
}

}  // namespace devicelogin::devserver::testing
