#pragma once
// The token agent's protocol (`devicelogin agent` and DEVICELOGIN_AGENT): what crosses the Unix
// socket that SSH forwards to remote hosts. Each message is a frame: a 4-byte big-endian length,
// then that many bytes of JSON (one object). A client sends one request and reads one response
// per connection. Requests:
//   {"op":"token","profile":"work","min_ttl":60}   a token that lives min_ttl more seconds
//   {"op":"token",...,"url":"https://api.example/x"}   the same, for a request to that URL only: the
//                                                   agent refuses when the profile does not allow
//                                                   its token there (the remote `api`)
//   {"op":"status"}                                 the agent and the profiles it forwards
// ("profile" may be left out or empty: the agent's default profile; nothing else is accepted.)
// Responses: {"ok":true, ...} or {"ok":false,"error":"<kind>","message":"<one line>"}.
// The refresh token and a DPoP key never cross: only an access token that can be used as it is.
// Uses std, nlohmann, core's SecretJson and Secret only, so that the fast path and the fuzz target
// can link it alone.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "devicelogin/result.hpp"
#include "devicelogin/secret.hpp"
#include "devicelogin/token_set.hpp"

namespace devicelogin::cli::agent {

// The largest request the agent reads: a request is a few short fields.
inline constexpr std::size_t kMaxRequestBytes = 4096;
// The largest response a client reads: a JWT access token of a generous size, and its fields.
inline constexpr std::size_t kMaxResponseBytes = 256 * 1024;
// The longest destination URL a token request may name.
inline constexpr std::size_t kMaxUrlBytes = 2048;
// The largest min_ttl a request may ask for (a year).
inline constexpr long long kMaxMinTtl = 366LL * 24 * 3600;
inline constexpr std::size_t kFrameHeaderBytes = 4;

enum class Operation { kToken, kStatus };

struct Request {
  Operation operation = Operation::kToken;
  std::string profile;  // empty: the agent's default profile
  long long min_ttl = 60;
  // Where the token will be sent (an http or https URL); empty: not named (token, exec, helpers).
  std::string url;
};

// Why the agent gave no token; the short name is the response's "error" field.
enum class Refusal {
  kBadRequest,       // not a request this protocol has (malformed, too large, unknown op)
  kNotForwarded,     // the agent does not serve this profile to remote hosts
  kDenied,           // refused at the agent's confirmation prompt
  kBearerOnly,       // the profile's token is DPoP-bound: useless without the key, which stays
  kLifetime,         // min_ttl above what the agent hands out (--max-lifetime)
  kDestination,      // the request's url is not one the profile allows its token to go to
  kPolicy,           // the machine policy of the agent's machine refuses it (the message says why)
  kNotLoggedIn,      // nothing stored for the profile on the agent's machine
  kReloginRequired,  // its refresh token was rejected
  kNetwork,          // the agent could not reach the server to refresh
  kServer,           // the server failed the refresh
  kStorage,          // the agent's store failed
  kBusy,             // too many connections at once
  kTimeout,          // the request did not arrive in time
  kInternal,         // anything else
};
[[nodiscard]] std::string_view refusal_name(Refusal refusal);
[[nodiscard]] std::optional<Refusal> refusal_from_name(std::string_view name);

// The 4 bytes that precede a body of `length` bytes.
[[nodiscard]] std::string frame_header(std::uint32_t length);
// The length a frame header announces.
[[nodiscard]] std::uint32_t frame_length(std::string_view header);

// A request's body (JSON). kUsage with a one-line message (no input echoed) when it is not one of
// the requests above: not a JSON object, an unknown "op" or member, a profile name that is not
// valid, a min_ttl that is not a whole number in 0..kMaxMinTtl, a url that is not an http(s) URL
// of printable ASCII of at most kMaxUrlBytes (token requests only).
[[nodiscard]] Result<Request> parse_request(std::string_view body);
[[nodiscard]] std::string format_request(const Request& request);

// The responses the agent writes (bodies, without their frame header).
[[nodiscard]] Secret format_token_response(const AccessToken& token);
struct ForwardedProfile {
  std::string profile;
  bool logged_in = false;
  std::optional<long long> expires_at;
};
struct AgentStatus {
  std::string version;
  std::vector<ForwardedProfile> profiles;
  bool confirm = false;
  std::optional<long long> max_lifetime;
};
[[nodiscard]] std::string format_status_response(const AgentStatus& status);
// `message` is one line: control characters are removed.
[[nodiscard]] std::string format_refusal(Refusal refusal, std::string_view message);

// What a client reads back.
struct RefusalReply {
  Refusal refusal = Refusal::kInternal;
  std::string message;  // control characters removed
};
// A token response: the token, or the agent's refusal. kServer for a body that is neither.
[[nodiscard]] Result<std::expected<AccessToken, RefusalReply>> parse_token_response(std::string_view body);
[[nodiscard]] Result<std::expected<AgentStatus, RefusalReply>> parse_status_response(std::string_view body);

// Socket I/O with a deadline (milliseconds on CLOCK_MONOTONIC, monotonic_ms()): every read and
// write waits in poll() no later than it, so a silent or slow peer costs its own connection only.
[[nodiscard]] long long monotonic_ms();
enum class IoStatus { kOk, kClosed, kTimeout, kTooLarge, kError };
// Reads one frame's body of at most `max_bytes` into `body` (wiping storage). kClosed when the
// peer closed before a whole frame; kTooLarge (nothing more read) when the header announces more.
[[nodiscard]] IoStatus read_frame(int fd, std::size_t max_bytes, long long deadline_ms, WipingString& body);
// Writes the header and body. The descriptor may be blocking or not.
[[nodiscard]] IoStatus write_frame(int fd, std::string_view body, long long deadline_ms);

}  // namespace devicelogin::cli::agent
