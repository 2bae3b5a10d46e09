#pragma once
// Internal: the server's clock as its responses' Date headers tell it (RFC 9110 §6.6.1), so that
// times the server issued (ID token iat/exp/nbf, a JWT access token's exp) are judged against the
// server's clock rather than a local clock that may be minutes off.
#include <optional>
#include <string_view>

#include "devicelogin/clock.hpp"
#include "devicelogin/http_client.hpp"

namespace devicelogin::http {

// Offsets beyond this are taken as a broken Date header, not as a clock that far off.
inline constexpr long long kMaxPlausibleClockOffsetSeconds = 24 * 3600;

// Unix seconds of an HTTP-date (RFC 9110 §5.6.7): IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"),
// or one of the obsolete forms recipients must accept, RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT")
// and asctime ("Sun Nov  6 08:49:37 1994"). Surrounding whitespace is ignored; anything else
// (another zone, a bad field, trailing text) gives nullopt.
[[nodiscard]] std::optional<long long> parse_http_date(std::string_view text);

// The server's clock minus the local clock, in whole seconds, from the Date header of `response`
// to a request for `url` that was sent at local time `sent` and answered at `received`. The
// server stamped Date somewhere between the two, so it is compared with their midpoint: the
// error is then at most half the round trip (the receipt time alone could be off by all of it),
// plus under a second for Date's truncation. nullopt when the answer cannot be trusted or used:
// `url` is neither https (TLS-verified by our client) nor a loopback http URL, Date is missing or
// unparsable, `received` precedes `sent`, or the offset is beyond kMaxPlausibleClockOffsetSeconds.
[[nodiscard]] std::optional<long long> clock_offset_from(std::string_view url, const HttpResponse& response,
                                                         SystemTime sent, SystemTime received);

// An HttpClient that passes every request to another one and learns the server's clock offset
// from each usable answer (clock_offset_from); the last usable one wins.
class ServerClockObserver final : public HttpClient {
 public:
  ServerClockObserver(HttpClient& inner, const Clock& clock) : inner_(inner), clock_(clock) {}

  [[nodiscard]] Result<HttpResponse> send(const HttpRequest& request) override;

  // The last offset learned, or the one given to assume_offset, or nullopt.
  [[nodiscard]] std::optional<long long> offset() const { return offset_; }
  // True once an answer through this observer gave a usable offset.
  [[nodiscard]] bool learned() const { return learned_; }
  // Starts from an offset learned earlier (by another observer, or stored), unless this one has
  // already learned its own.
  void assume_offset(std::optional<long long> offset) {
    if (!learned_) offset_ = offset;
  }
  // The client requests are passed to (for requests to other servers, whose clocks are not this one's).
  [[nodiscard]] HttpClient& inner() { return inner_; }
  // The local clock's time corrected by the offset (the local time when no offset is known).
  [[nodiscard]] long long server_now() const { return to_unix(clock_.now()) + offset_.value_or(0); }

 private:
  HttpClient& inner_;
  const Clock& clock_;
  std::optional<long long> offset_;
  bool learned_ = false;
};

}  // namespace devicelogin::http
