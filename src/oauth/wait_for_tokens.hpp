#pragma once
// The driver of the device flow (RFC 8628 §3.4-3.5): DeviceFlow decides when to poll and when to
// stop; this sends the polls, waits on the clock, and turns each answer into a PollOutcome.
#include <functional>

#include "devicelogin/clock.hpp"
#include "devicelogin/result.hpp"
#include "oauth/oauth_client.hpp"
#include "oauth/wire.hpp"

namespace devicelogin::oauth {

// Polls the token endpoint with `authorization`'s device code through `client` until the server
// issues tokens (a TokenReply of kind kTokens, expiries as the server gave them) or the flow ends:
// kAccessDenied, kExpiredToken, kProtocol/kServer/kNetwork as DeviceFlow reports them, kCancelled
// when `clock.sleep_until` returns false. `issued_at` is when the authorization arrived;
// `on_waiting` (may be empty) hears the seconds left before the code expires, before each wait.
[[nodiscard]] Result<TokenReply> wait_for_tokens(OAuthClient& client, const DeviceAuthorization& authorization,
                                                 SystemTime issued_at, Clock& clock,
                                                 const std::function<void(long long seconds_left)>& on_waiting);

}  // namespace devicelogin::oauth
