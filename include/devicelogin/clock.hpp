#pragma once
// Clock: the source of "now", injectable so protocol code and tests never depend on wall time.
#include <chrono>

#include "devicelogin/export.hpp"

namespace devicelogin {

using SystemTime = std::chrono::system_clock::time_point;
using Seconds = std::chrono::seconds;

// Supplies the current wall-clock time and sleeps; tests replace it with a fake.
class DEVICELOGIN_API Clock {
 public:
  virtual ~Clock() = default;
  [[nodiscard]] virtual SystemTime now() const = 0;
  // Sleeps until `deadline` or until the process is asked to stop; returns false when interrupted.
  virtual bool sleep_until(SystemTime deadline) = 0;
};

// The real clock. Sleeping is interruptible by request_stop() (used by the CLI's signal handling).
class DEVICELOGIN_API SystemClock final : public Clock {
 public:
  [[nodiscard]] SystemTime now() const override;
  bool sleep_until(SystemTime deadline) override;
};

// Asks every SystemClock sleep in the process to return early (async-signal-safe).
DEVICELOGIN_API void request_stop() noexcept;
// True once request_stop() was called.
[[nodiscard]] DEVICELOGIN_API bool stop_requested() noexcept;

// Seconds since the Unix epoch.
[[nodiscard]] inline long long to_unix(SystemTime t) {
  return std::chrono::duration_cast<Seconds>(t.time_since_epoch()).count();
}
[[nodiscard]] inline SystemTime from_unix(long long s) { return SystemTime{Seconds{s}}; }

}  // namespace devicelogin
