#include "devicelogin/clock.hpp"

#include <atomic>
#include <thread>

namespace devicelogin {
namespace {
std::atomic<bool> g_stop{false};
}

void request_stop() noexcept { g_stop.store(true); }
bool stop_requested() noexcept { return g_stop.load(); }

SystemTime SystemClock::now() const { return std::chrono::system_clock::now(); }

bool SystemClock::sleep_until(SystemTime deadline) {
  // Short slices so that Ctrl-C (which sets the flag from a signal handler) ends the wait quickly.
  while (!stop_requested()) {
    auto now = std::chrono::system_clock::now();
    if (now >= deadline) return true;
    auto slice = std::min<std::chrono::system_clock::duration>(deadline - now, std::chrono::milliseconds(100));
    std::this_thread::sleep_for(slice);
  }
  return false;
}

}  // namespace devicelogin
