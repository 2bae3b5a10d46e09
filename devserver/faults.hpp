#pragma once
// Fault injection on the device authorization and token endpoints, for testing clients against a
// misbehaving server: latency, dropped connections, 500 and 503 answers, and deterministic
// hang-ups on the first N polls or refreshes.
#include <atomic>

#include <httplib.h>

#include "devserver/server.hpp"
#include "http_common.hpp"

namespace devicelogin::devserver {

class Faults {
 public:
  // Takes the fault knobs of `options` (latency_ms, drop_rate, fail_rate_500, fail_rate_503,
  // hang_up_polls, hang_up_refreshes); hang-ups are reported to `log`.
  Faults(const ServerOptions& options, EventLog log);

  // Applies the latency (a real wait: it models a slow network), then the drop, 500 and 503
  // knobs; true when the request was answered (or its connection dropped) by a fault.
  bool inject(httplib::Response& res);

  // --hang-up-polls / --hang-up-refreshes: true for each of the first N device-code polls /
  // refresh_token grants, whose connection is then closed with no answer, as when a server dies
  // mid-request (the request has been read whole: handlers run after the body is in).
  bool hang_up_poll(httplib::Response& res);
  bool hang_up_refresh(httplib::Response& res);

 private:
  bool hang_up(std::atomic<int>& seen, int limit, std::string_view what, httplib::Response& res);

  int latency_ms_;
  double drop_rate_;
  double fail_rate_500_;
  double fail_rate_503_;
  int hang_up_polls_;
  int hang_up_refreshes_;
  EventLog log_;
  std::atomic<int> polls_seen_{0};
  std::atomic<int> refreshes_seen_{0};
};

}  // namespace devicelogin::devserver
