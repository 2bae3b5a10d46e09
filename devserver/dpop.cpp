#include "dpop.hpp"

#include <cmath>

#include <nlohmann/json.hpp>

#include "core/encoding.hpp"
#include "devicelogin/sanitize.hpp"
#include "jose.hpp"

namespace devicelogin::devserver {

namespace {

using json = nlohmann::json;

constexpr std::size_t kMaxProofBytes = 8 * 1024;  // a P-256 proof with ath and nonce is ~700
constexpr std::size_t kMaxJtiBytes = 256;          // RFC 9449 §4.2 asks for 96 random bits or more
constexpr std::size_t kNonceBytes = 16;

std::unexpected<DpopFailure> invalid(std::string description) {
  return std::unexpected(DpopFailure{DpopFailure::Kind::kInvalidProof, std::move(description)});
}

bool base64url_text(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

// A JWS part decoded and parsed as a JSON object; a discarded value when it is not one.
json decode_object(std::string_view part) {
  auto text = core::base64url_decode(part);
  if (!text || !json_nesting_within(*text)) return json(json::value_t::discarded);
  json value = json::parse(*text, nullptr, false);
  return value.is_object() ? value : json(json::value_t::discarded);
}

std::string string_member(const json& object, const char* name) {
  auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

}  // namespace

std::optional<std::string> normalize_htu(std::string_view url) {
  std::size_t cut = url.find_first_of("?#");
  if (cut != std::string_view::npos) url = url.substr(0, cut);
  std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::nullopt;
  std::string scheme = core::ascii_lower(url.substr(0, scheme_end));
  if (scheme != "http" && scheme != "https") return std::nullopt;
  std::string_view rest = url.substr(scheme_end + 3);
  std::size_t path_start = rest.find('/');
  std::string_view authority = rest.substr(0, path_start);
  std::string path(path_start == std::string_view::npos ? std::string_view("/") : rest.substr(path_start));
  if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;
  std::string host = core::ascii_lower(authority);
  // The port is after the last ':' unless that is inside an IPv6 literal's brackets.
  std::size_t colon = host.rfind(':');
  if (colon != std::string::npos && host.find(']', colon) == std::string::npos) {
    std::string_view port = std::string_view(host).substr(colon + 1);
    if ((scheme == "http" && port == "80") || (scheme == "https" && port == "443") || port.empty()) {
      host.erase(colon);
    }
  }
  // RFC 3986 §6.2.2.1: percent-encoding hex digits compare case-insensitively.
  for (std::size_t i = 0; i + 2 < path.size(); ++i) {
    if (path[i] == '%') {
      for (std::size_t j = i + 1; j <= i + 2; ++j) {
        if (path[j] >= 'a' && path[j] <= 'f') path[j] = static_cast<char>(path[j] - 'a' + 'A');
      }
    }
  }
  return scheme + "://" + host + path;
}

DpopValidator::DpopValidator(DpopSettings settings) : settings_(settings) {}

void DpopValidator::rotate_nonce_locked(TimePoint now) {
  if (!nonce_.empty() && now < nonce_since_ + settings_.nonce_lifetime && now >= nonce_since_) return;
  auto fresh = random_token(kNonceBytes);
  if (!fresh) return;  // keep the old one rather than answer without any
  // After a long quiet spell (or a clock step back) the old nonce is not kept as "previous".
  bool recent = !nonce_.empty() && now < nonce_since_ + 2 * settings_.nonce_lifetime && now >= nonce_since_;
  previous_nonce_ = recent ? nonce_ : std::string{};
  nonce_ = std::move(*fresh);
  nonce_since_ = now;
}

std::string DpopValidator::current_nonce(TimePoint now) {
  if (!settings_.require_nonce) return {};
  std::lock_guard lock(mutex_);
  rotate_nonce_locked(now);
  return nonce_;
}

bool DpopValidator::nonce_accepted_locked(std::string_view nonce, TimePoint now) {
  rotate_nonce_locked(now);
  if (nonce.empty()) return false;
  // The previous nonce stays good for one more lifetime, so a client that just learned it is not
  // turned away by a rotation in between.
  return (!nonce_.empty() && constant_time_equal(nonce, nonce_)) ||
         (!previous_nonce_.empty() && constant_time_equal(nonce, previous_nonce_));
}

void DpopValidator::evict_expired_locked(TimePoint now) {
  while (!seen_by_expiry_.empty() && seen_by_expiry_.begin()->first < now) {
    seen_.erase(seen_by_expiry_.begin()->second);
    seen_by_expiry_.erase(seen_by_expiry_.begin());
  }
}

std::size_t DpopValidator::replay_entries() {
  std::lock_guard lock(mutex_);
  return seen_.size();
}

std::expected<std::string, DpopFailure> DpopValidator::check(const DpopRequest& request, TimePoint now) {
  // RFC 9449 §4.3 point 1: exactly one DPoP header field.
  if (request.proofs.size() != 1) return invalid("exactly one DPoP header is required");
  std::string_view proof = request.proofs.front();
  if (proof.size() > kMaxProofBytes) return invalid("the DPoP proof is too large");

  // Point 2: a well-formed JWS in compact serialization.
  std::size_t first = proof.find('.');
  std::size_t second = first == std::string_view::npos ? first : proof.find('.', first + 1);
  if (second == std::string_view::npos || proof.find('.', second + 1) != std::string_view::npos) {
    return invalid("the DPoP proof is not a compact JWS");
  }
  std::string_view header_part = proof.substr(0, first);
  std::string_view claims_part = proof.substr(first + 1, second - first - 1);
  std::string_view signature_part = proof.substr(second + 1);
  if (!base64url_text(header_part) || !base64url_text(claims_part) || !base64url_text(signature_part)) {
    return invalid("the DPoP proof is not base64url");
  }
  json header = decode_object(header_part);
  json claims = decode_object(claims_part);
  if (header.is_discarded() || claims.is_discarded()) return invalid("the DPoP proof's header or claims are not JSON objects");

  // Point 4: typ.
  if (string_member(header, "typ") != "dpop+jwt") return invalid("the DPoP proof's typ must be dpop+jwt");
  // Point 5: an asymmetric algorithm we support; never none, never an HMAC.
  std::string alg = string_member(header, "alg");
  bool supported = false;
  for (std::string_view allowed : kProofAlgorithms) supported = supported || alg == allowed;
  if (!supported) return invalid("the DPoP proof's alg must be ES256 or EdDSA");
  // Points 6-7: the signature verifies with the public key in jwk (and jwk has no private part).
  auto jwk = header.find("jwk");
  if (jwk == header.end()) return invalid("the DPoP proof has no jwk");
  auto key = PublicJwk::parse(*jwk, alg);
  if (!key) return invalid("the DPoP proof's jwk is not usable: " + key.error());
  auto signature = core::base64url_decode(signature_part);
  std::string_view signing_input = proof.substr(0, second);
  if (!signature || !key->verify(signing_input, *signature)) return invalid("the DPoP proof's signature does not verify");

  // Point 3: the required claims.
  std::string jti = string_member(claims, "jti");
  if (jti.empty() || jti.size() > kMaxJtiBytes) return invalid("the DPoP proof needs a jti of 1 to 256 characters");
  // Point 8: htm is the request's method.
  if (string_member(claims, "htm") != request.method) return invalid("the DPoP proof's htm does not match the method");
  // Point 9: htu is this request's URL without query and fragment, after normalization.
  auto htu = normalize_htu(string_member(claims, "htu"));
  auto expected_htu = normalize_htu(request.url);
  if (!htu || !expected_htu || *htu != *expected_htu) return invalid("the DPoP proof's htu does not match the request URL");
  // Point 11: iat within the window around our clock.
  auto iat_member = claims.find("iat");
  if (iat_member == claims.end() || !iat_member->is_number()) return invalid("the DPoP proof needs a numeric iat");
  double iat_seconds = iat_member->get<double>();
  double now_seconds = std::chrono::duration<double>(now.time_since_epoch()).count();
  auto window = static_cast<double>(settings_.iat_window.count());
  if (!std::isfinite(iat_seconds) || std::fabs(iat_seconds - now_seconds) > window) {
    return invalid("the DPoP proof's iat is outside the accepted window");
  }
  // Point 12: ath is the hash of the access token presented with it.
  if (request.access_token != nullptr) {
    std::string expected_ath = core::base64url_encode(sha256(*request.access_token));
    if (!constant_time_equal(string_member(claims, "ath"), expected_ath)) {
      return invalid("the DPoP proof's ath does not match the access token");
    }
  }

  const TimePoint iat = TimePoint(std::chrono::duration_cast<TimePoint::duration>(
      std::chrono::duration<double>(iat_seconds)));
  std::lock_guard lock(mutex_);
  // Point 10: the nonce we chose, when we require one.
  if (settings_.require_nonce && !nonce_accepted_locked(string_member(claims, "nonce"), now)) {
    return std::unexpected(DpopFailure{DpopFailure::Kind::kUseNonce, "the authorization server requires a DPoP nonce"});
  }
  // RFC 9449 §11.1: a proof is used once. An entry lives until the proof's iat leaves the window,
  // after which the iat check refuses the proof anyway.
  evict_expired_locked(now);
  std::string replay_key = sha256(key->thumbprint() + ":" + jti);
  if (seen_.contains(replay_key)) return invalid("the DPoP proof was already used (jti replayed)");
  if (seen_.size() >= settings_.max_replay_entries) {
    // Forgetting a live entry would let its proof be replayed: refuse until entries expire.
    return std::unexpected(DpopFailure{DpopFailure::Kind::kFull, "too many recent DPoP proofs"});
  }
  TimePoint expires = iat + settings_.iat_window;
  seen_.emplace(replay_key, expires);
  seen_by_expiry_.emplace(expires, std::move(replay_key));
  return key->thumbprint();
}

}  // namespace devicelogin::devserver
