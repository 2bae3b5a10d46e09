#pragma once
// DPoP proof checking (RFC 9449 §4.3) for the token, revocation and userinfo endpoints: the proof's
// form and signature, its binding to this request (htm, htu, ath), its freshness (iat window,
// server nonces) and its single use (a jti replay cache bounded in memory). Free of HTTP: it takes
// the header values, the request's method and URL, and "now".
#include <chrono>
#include <cstddef>
#include <expected>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "state.hpp"

namespace devicelogin::devserver {

// The rules' knobs.
struct DpopSettings {
  bool require_nonce = false;                // RFC 9449 §8: proofs must carry a nonce we chose
  std::chrono::seconds iat_window{60};       // a proof's iat may be this far from now, either way
  std::chrono::seconds nonce_lifetime{300};  // a nonce is current this long, then accepted as
                                             // the previous one for as long again
  std::size_t max_replay_entries = 100000;   // jti records kept at once (about 100 bytes each)
};

// Why a request's proof is refused.
struct DpopFailure {
  enum class Kind {
    kInvalidProof,  // invalid_dpop_proof (RFC 9449 §5, §7.1)
    kUseNonce,      // use_dpop_nonce: retry with the current nonce (RFC 9449 §8, §9)
    kFull,          // the replay cache is full of unexpired entries: try later (503)
  } kind;
  std::string description;  // one line, never the proof or a token
};

// What one request presents.
struct DpopRequest {
  std::vector<std::string_view> proofs;  // the value of every DPoP header field
  std::string_view method;               // the request's method, e.g. "POST"
  std::string_view url;                  // the server's own URL for the request (issuer + path)
  // The access token the request presents, for the `ath` check; null at the token endpoint.
  const std::string* access_token = nullptr;
};

// Thread-safe: one per server.
class DpopValidator {
 public:
  explicit DpopValidator(DpopSettings settings);

  // The RFC 7638 thumbprint of the proof's key when the request carries exactly one valid, fresh,
  // unused proof (its jti is then remembered); the failure otherwise.
  [[nodiscard]] std::expected<std::string, DpopFailure> check(const DpopRequest& request, TimePoint now);

  // True when proofs must carry a nonce (--dpop-nonce).
  [[nodiscard]] bool nonces_required() const { return settings_.require_nonce; }
  // The nonce a client should use now, rotated once its lifetime is over; empty when nonces are
  // not required or the random generator failed.
  [[nodiscard]] std::string current_nonce(TimePoint now);
  // Entries in the jti replay cache, for tests.
  [[nodiscard]] std::size_t replay_entries();

 private:
  void rotate_nonce_locked(TimePoint now);
  [[nodiscard]] bool nonce_accepted_locked(std::string_view nonce, TimePoint now);
  void evict_expired_locked(TimePoint now);

  DpopSettings settings_;
  std::mutex mutex_;
  std::string nonce_;
  std::string previous_nonce_;
  TimePoint nonce_since_{};
  // SHA-256(jkt ":" jti) -> when the proof stops being acceptable (iat + window); the set orders
  // the same entries by that time so eviction of expired ones pops from its front.
  std::unordered_map<std::string, TimePoint> seen_;
  std::set<std::pair<TimePoint, std::string>> seen_by_expiry_;
};

// The form of `url` that htu comparisons use (RFC 9449 §4.3 point 9, RFC 3986 §6.2.2-6.2.3):
// query and fragment dropped, scheme and host lower-cased, the scheme's default port dropped, an
// empty path as "/". nullopt for anything but an absolute http(s) URL without user information.
[[nodiscard]] std::optional<std::string> normalize_htu(std::string_view url);

}  // namespace devicelogin::devserver
