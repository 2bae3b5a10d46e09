#include "faults.hpp"

#include <chrono>
#include <random>
#include <string>
#include <thread>

#include "connection.hpp"

namespace devicelogin::devserver {

namespace {

double uniform_draw() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
}

bool chance(double probability) { return probability > 0 && uniform_draw() < probability; }

}  // namespace

Faults::Faults(const ServerOptions& options, EventLog log)
    : latency_ms_(options.latency_ms),
      drop_rate_(options.drop_rate),
      fail_rate_500_(options.fail_rate_500),
      fail_rate_503_(options.fail_rate_503),
      hang_up_polls_(options.hang_up_polls),
      hang_up_refreshes_(options.hang_up_refreshes),
      log_(std::move(log)) {}

bool Faults::inject(httplib::Response& res) {
  // Real time, not the server's Clock: the latency knob models a slow network, which a client
  // observes as a late answer.
  if (latency_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(latency_ms_));
  if (chance(drop_rate_)) {
    BoundedHttpServer::drop_current_connection();
    res.set_header("Connection", "close");
    set_oauth_error(res, {500, "server_error", "connection dropped", false});
    return true;
  }
  if (chance(fail_rate_500_)) {
    set_oauth_error(res, {500, "server_error", "injected failure", false});
    return true;
  }
  if (chance(fail_rate_503_)) {
    res.set_header("Retry-After", "1");
    set_oauth_error(res, {503, "temporarily_unavailable", "injected failure", false});
    return true;
  }
  return false;
}

bool Faults::hang_up_poll(httplib::Response& res) {
  return hang_up(polls_seen_, hang_up_polls_, "device code poll", res);
}

bool Faults::hang_up_refresh(httplib::Response& res) {
  return hang_up(refreshes_seen_, hang_up_refreshes_, "refresh", res);
}

bool Faults::hang_up(std::atomic<int>& seen, int limit, std::string_view what, httplib::Response& res) {
  if (limit <= 0) return false;
  const int number = ++seen;
  if (number > limit) return false;
  BoundedHttpServer::drop_current_connection();
  res.set_header("Connection", "close");
  set_oauth_error(res, {500, "server_error", "connection dropped", false});
  log_("hung up without an answer on " + std::string(what) + " " + std::to_string(number) + " of " +
       std::to_string(limit));
  return true;
}

}  // namespace devicelogin::devserver
