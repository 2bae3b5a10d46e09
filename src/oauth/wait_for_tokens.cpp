#include "devicelogin/advanced/error_builders.hpp"
#include "oauth/wait_for_tokens.hpp"

#include <optional>
#include <string>
#include <utility>

#include "oauth/device_flow.hpp"

namespace devicelogin::oauth {
namespace {

// What one poll's answer (or its failure to arrive) means to the state machine.
PollOutcome outcome_of(Result<TokenReply>& reply) {
  PollOutcome outcome;
  if (!reply) {
    // A request that never got an answer may be retried; anything else ends the flow.
    outcome.kind = reply.error().code == ErrorCode::kNetwork ? PollOutcome::Kind::kTransient : PollOutcome::Kind::kFatal;
    outcome.error = reply.error();
  } else if (reply->kind == TokenReply::Kind::kTransient) {
    outcome.kind = PollOutcome::Kind::kTransient;
    outcome.retry_after = reply->retry_after;
    outcome.error = Error{ErrorCode::kServer, "the token endpoint answered HTTP " + std::to_string(reply->http_status), "",
                          reply->http_status};
  } else if (reply->kind == TokenReply::Kind::kError) {
    outcome.kind = classify_poll_error(reply->error.error);
    outcome.server_interval = reply->error.interval;
    outcome.error = Error{outcome.kind == PollOutcome::Kind::kTransient ? ErrorCode::kServer : ErrorCode::kProtocol,
                          "login failed: " + describe_oauth_error(reply->error), reply->error.error, reply->http_status};
  } else {
    outcome.kind = PollOutcome::Kind::kSuccess;
  }
  return outcome;
}

}  // namespace

Result<TokenReply> wait_for_tokens(OAuthClient& client, const DeviceAuthorization& authorization, SystemTime issued_at,
                                   Clock& clock, const std::function<void(long long seconds_left)>& on_waiting) {
  DeviceFlow flow(issued_at, authorization.expires_in, authorization.interval);
  std::optional<TokenReply> issued;
  for (;;) {
    const FlowAction action = flow.next();
    if (action.kind == FlowAction::Kind::kFailed) return std::unexpected(action.error);
    if (action.kind == FlowAction::Kind::kDone) break;
    if (on_waiting) on_waiting(std::chrono::duration_cast<Seconds>(flow.deadline() - clock.now()).count());
    if (!clock.sleep_until(action.poll_at)) return fail(ErrorCode::kCancelled, "login cancelled");
    auto reply = client.poll_token(authorization.device_code, to_unix(clock.now()));
    const PollOutcome outcome = outcome_of(reply);
    if (outcome.kind == PollOutcome::Kind::kSuccess) issued = std::move(*reply);
    flow.on_outcome(outcome, clock.now());
  }
  return std::move(*issued);
}

}  // namespace devicelogin::oauth
