// The RFC 8628 §3.5 polling state machine fed with arbitrary answer sequences, with values in the
// ranges the wire parser lets through (interval 1..3600, expires_in 1..86400, Retry-After
// 0..3600, a slow_down's interval up to ten years).
#include "fuzz_input.hpp"
#include "oauth/device_flow.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace devicelogin;
  using Kind = oauth::PollOutcome::Kind;
  fuzz::Input in(data, size);
  auto number = [&](long long limit) {
    unsigned long long v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | in.byte();
    return static_cast<long long>(v % static_cast<unsigned long long>(limit + 1));
  };
  const SystemTime start = from_unix(1'800'000'000);
  const long long expires_in = 1 + number(86'399);
  const long long interval = 1 + number(3'599);
  oauth::DeviceFlow flow(start, expires_in, interval);
  // RFC 8628 §3.5: the first poll comes one interval after the code; a code that expires by then
  // has failed before any poll.
  fuzz::check((flow.next().kind == oauth::FlowAction::Kind::kWaitThenPoll) == (interval < expires_in));
  long long last_interval = flow.interval();
  int early_polls = 0;  // polls sooner than the interval: only the one last poll before the deadline
  for (int step = 0; step < 64 && flow.next().kind == oauth::FlowAction::Kind::kWaitThenPoll; ++step) {
    auto action = flow.next();
    // RFC 8628 §3.5: never poll before the interval, never after the code expired.
    fuzz::check(action.poll_at >= start + Seconds(1) && action.poll_at < flow.deadline());
    // The answer arrives some time after the poll was sent (at most a minute later).
    SystemTime now = action.poll_at + Seconds(number(60));
    oauth::PollOutcome outcome;
    outcome.kind = static_cast<Kind>(in.byte() % 7);
    if (in.byte() & 1) outcome.server_interval = number(10LL * 366 * 24 * 3600);
    if (in.byte() & 1) outcome.retry_after = number(3'600);
    if (in.byte() & 1) outcome.error = Error{ErrorCode::kNetwork, "cannot reach the server", "", 0};
    auto next = flow.on_outcome(outcome, now);
    fuzz::check(flow.interval() >= last_interval);  // slow_down only ever raises it
    last_interval = flow.interval();
    if (next.kind == oauth::FlowAction::Kind::kWaitThenPoll) {
      fuzz::check(next.poll_at >= now + Seconds(1));
      if (outcome.kind == Kind::kSlowDown) fuzz::check(next.poll_at == now + Seconds(flow.interval()));
      if (outcome.kind == Kind::kPending && next.poll_at != now + Seconds(flow.interval())) {
        // When the next regular poll would be too late, one last poll 1 s before
        // the deadline, once.
        fuzz::check(now + Seconds(flow.interval()) >= flow.deadline());
        fuzz::check(next.poll_at == flow.deadline() - Seconds(oauth::DeviceFlow::kLastPollBeforeDeadlineSeconds));
        fuzz::check(++early_polls == 1);
      }
      if (outcome.kind == Kind::kTransient && outcome.retry_after) {
        fuzz::check(next.poll_at >= now + Seconds(*outcome.retry_after));
      }
    } else if (next.kind == oauth::FlowAction::Kind::kFailed) {
      fuzz::check(!next.error.message.empty());
    } else {
      fuzz::check(outcome.kind == Kind::kSuccess);
    }
  }
  return 0;
}
