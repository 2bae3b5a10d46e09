#pragma once
// The devserver's memory: device grants, token records, browser sessions and failure counters.
// Free of I/O and of the clock: every call takes "now", so the rules are testable without sleeping.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace devicelogin::devserver {

using TimePoint = std::chrono::system_clock::time_point;
using Millis = std::chrono::milliseconds;

// Where one device authorization stands (RFC 8628 §3.5).
enum class DeviceStatus { kPending, kApproved, kDenied, kRedeemed };

// One device authorization request, keyed by the SHA-256 of its device code.
struct DeviceGrant {
  std::string user_code;  // canonical: 8 letters, no hyphen
  std::string client_id;
  std::string scope;
  std::string requested_from;  // the device authorization request's client address, for the approval page
  TimePoint created;
  TimePoint expires;
  long long interval = 5;  // seconds; grows by 5 with each slow_down (RFC 8628 §3.5)
  std::optional<TimePoint> last_poll;
  long long polls = 0;
  DeviceStatus status = DeviceStatus::kPending;
  std::string username;  // who approved or denied
  TimePoint decided;
};

// What a device_code poll gets (RFC 8628 §3.5), with the grant's facts when approved.
struct PollOutcome {
  enum class Kind { kPending, kSlowDown, kApproved, kDenied, kExpired, kInvalidGrant, kFull } kind;
  std::string client_id;
  std::string scope;
  std::string username;
  TimePoint auth_time;
};

enum class TokenKind { kAccess, kRefresh };

// What a live token stands for; returned by lookups for userinfo and introspection.
struct TokenView {
  TokenKind kind = TokenKind::kAccess;
  std::uint64_t grant_id = 0;
  std::string client_id;
  std::string username;
  std::string scope;
  std::string jti;
  // RFC 9449 §6: the thumbprint of the DPoP key the token is bound to; empty for a bearer token.
  // In a RefreshOutcome: the key the grant's refresh tokens are bound to.
  std::string jkt;
  TimePoint issued;
  TimePoint expires;
  TimePoint auth_time;
};

// What a refresh_token grant gets (RFC 6749 §6, RFC 9700 §4.14).
struct RefreshOutcome {
  // kKeyMismatch: the grant's refresh tokens are DPoP-bound and the request's proof (if any) is
  // for another key.
  enum class Kind { kOk, kInvalidGrant, kReuseDetected, kInvalidScope, kFull, kKeyMismatch } kind;
  TokenView grant;  // client, user, granted scope and grant id when kOk
};

// An authorization request (RFC 6749 §4.1.1) the authorization endpoint accepted, waiting in the
// browser's session for sign-in and approval.
struct AuthRequest {
  std::string id;  // random; the pages' forms carry it, so a decision applies to the request shown
  std::string client_id;
  std::string redirect_uri;
  std::string state;  // passed back unchanged; may be empty
  std::string code_challenge;  // S256
  std::string scope;
  std::string nonce;  // OIDC Core §3.1.2.1: copied into the ID token; may be empty
  TimePoint created;
};

// One issued authorization code, keyed by the SHA-256 of the code (RFC 6749 §4.1.2: short-lived,
// one use, bound to the client and redirect URI; RFC 7636 §4.4: and to the code challenge).
struct AuthCode {
  std::string client_id;
  std::string redirect_uri;
  std::string code_challenge;
  std::string scope;
  std::string nonce;
  std::string username;
  TimePoint auth_time;
  TimePoint expires;
  bool redeemed = false;
  std::uint64_t grant_id = 0;  // the token grant its redemption started (0: none)
};

// What the token endpoint presents with a code: who asks, the redirect_uri it sends, and the S256
// transform of its code_verifier.
struct AuthCodePresentation {
  std::string client_id;
  std::string redirect_uri;
  std::string challenge;
};

// What an authorization_code grant gets (RFC 6749 §4.1.3, RFC 7636 §4.6).
struct AuthCodeOutcome {
  enum class Kind {
    kOk,
    kUnknown,           // never issued, or forgotten after expiry
    kExpired,
    kReused,            // a second presentation: the tokens of the first are revoked
    kClientMismatch,
    kRedirectMismatch,
    kVerifierMismatch,
    kFull,              // the token table is full; the code is left unused
  } kind;
  TokenView grant;  // client, user, scope, auth time and the new grant's id when kOk
  std::string nonce;
};

// A browser's approval-page session, keyed by the SHA-256 of its cookie.
struct BrowserSession {
  std::string csrf;
  std::string user_code;  // the code the browser entered and had accepted
  std::string username;   // who signed in, empty before sign-in
  TimePoint expires;
  // The code a verification_uri_complete link filled in (canonical), and whether the accepted
  // code is that one: the user then confirms it again before approving, since a link is what a
  // phisher sends.
  std::string linked_code;
  bool code_from_link = false;
  // The authorization request this browser is signing in for (the code flow), if any.
  std::optional<AuthRequest> auth_request;
};

// What became of a user code, for the approval page's answer when it is not pending.
enum class UserCodeStatus { kUnknown, kPending, kExpired, kUsed };

// Bounds and behaviour that the rules need.
struct StateSettings {
  std::size_t max_codes = 10000;
  std::size_t max_tokens = 200000;
  std::size_t max_sessions = 10000;
  std::size_t max_rate_entries = 10000;
  int slow_down_every = 0;
  std::optional<Millis> auto_approve_after;
  std::string auto_approve_user;
  Millis poll_tolerance{100};       // clock jitter forgiven when comparing poll spacing
  Millis expired_grace{5 * 60 * 1000};  // expired codes answer expired_token this long
  int max_failures = 5;             // RFC 8628 §5.1: wrong user codes per client per window
  Millis failure_window{60 * 1000};
};

// All of the server's mutable state behind one mutex; every method is thread-safe.
class State {
 public:
  explicit State(StateSettings settings);

  enum class AddResult { kAdded, kFull, kUserCodeTaken };
  // Stores a new device grant unless the bound is reached or its user code is in use.
  [[nodiscard]] AddResult add_device_grant(std::string device_key, DeviceGrant grant, TimePoint now);
  // Applies one token-endpoint poll by `client_id`; an approved grant is redeemed by this call.
  [[nodiscard]] PollOutcome poll(const std::string& device_key, std::string_view client_id,
                                 TimePoint now);
  // The pending, unexpired grant with this canonical user code (auto-approval applied first).
  [[nodiscard]] std::optional<DeviceGrant> pending_grant(const std::string& user_code, TimePoint now);
  // Whether the code is pending, expired (still remembered), used (approved, denied or redeemed)
  // or unknown (never issued, or forgotten after expiry).
  [[nodiscard]] UserCodeStatus user_code_status(const std::string& user_code, TimePoint now);
  // Approves or denies a pending, unexpired grant as `username`; false when it is no longer pending.
  [[nodiscard]] bool decide(const std::string& user_code, const std::string& username, bool approve,
                            TimePoint now);

  // Starts a token grant for an approved authorization and returns its id. `refresh_jkt`, when
  // not empty, binds the grant's refresh tokens to that DPoP key (RFC 9449 §5, public clients).
  [[nodiscard]] std::uint64_t create_grant(const std::string& client_id, const std::string& username,
                                           const std::string& scope, TimePoint auth_time,
                                           std::string refresh_jkt = {});
  // Records an issued token under the SHA-256 of its value; `jkt` is its DPoP key, if bound.
  void add_token(const std::string& token_key, TokenKind kind, std::uint64_t grant_id,
                 std::string jti, TimePoint issued, TimePoint expires, std::string jkt = {});
  // Rotates a refresh token: the presented one is retired; presenting a retired one revokes
  // its whole grant (RFC 9700 §4.14). `scope` empty means the grant's scope. `proof_jkt` is the
  // key of the request's DPoP proof (empty without one): a grant bound to a key refreshes only
  // with a proof for that key, and a token presented without it changes nothing (not even reuse
  // detection: without the key a stolen token is useless, and must not be able to end the
  // grant). `bind` binds an unbound grant's refresh tokens to `proof_jkt` (public clients).
  [[nodiscard]] RefreshOutcome refresh(const std::string& token_key, std::string_view client_id,
                                       std::string_view scope, TimePoint now,
                                       std::string_view proof_jkt = {}, bool bind = false);
  // The live (unexpired, unrevoked, not rotated) token with this key.
  [[nodiscard]] std::optional<TokenView> lookup(const std::string& token_key, TimePoint now);
  // RFC 7009 §2.1: revokes the token when `client_id` owns it (a refresh token takes its grant
  // and every access token with it); true when something was revoked.
  bool revoke(const std::string& token_key, std::string_view client_id);

  // Stores an authorization code under `code_key` (its SHA-256) unless `max_codes` codes are alive
  // (expired ones are dropped first); false when full.
  [[nodiscard]] bool add_auth_code(std::string code_key, AuthCode code, TimePoint now);
  // Redeems a code: the first presentation spends it, whatever its outcome, so a code is tried
  // once; a later one finds it spent and revokes the grant the first started (RFC 6749 §4.1.2).
  // On success starts the token grant (its refresh tokens bound to `refresh_jkt` when not empty).
  [[nodiscard]] AuthCodeOutcome redeem_auth_code(const std::string& code_key, const AuthCodePresentation& presented,
                                                 TimePoint now, std::string refresh_jkt = {});
  [[nodiscard]] std::size_t auth_code_count();

  // The session with this key when it exists and is unexpired.
  [[nodiscard]] std::optional<BrowserSession> session(const std::string& session_key, TimePoint now);
  // Creates or replaces a session, evicting the one closest to expiry when the bound is reached.
  void put_session(const std::string& session_key, BrowserSession session);
  // Removes the session's pending authorization request and returns it when its id is `id`
  // (one decision per request, even for two posts at once); nullopt otherwise.
  [[nodiscard]] std::optional<AuthRequest> take_auth_request(const std::string& session_key, std::string_view id);

  // True when `who` has too many recent failures (RFC 8628 §5.1 brute-force protection).
  [[nodiscard]] bool rate_limited(const std::string& who, TimePoint now);
  // Counts one failure for `who`.
  void record_failure(const std::string& who, TimePoint now);

  // Drops every expired entry; called by the sweeper and when a bound is hit.
  void sweep(TimePoint now);

  // Sizes, for tests and the log.
  [[nodiscard]] std::size_t device_grant_count();
  [[nodiscard]] std::size_t token_count();

 private:
  struct TokenGrant {
    std::string client_id;
    std::string username;
    std::string scope;
    TimePoint auth_time;
    bool revoked = false;
    std::size_t live_tokens = 0;
    std::string refresh_jkt;  // the DPoP key its refresh tokens are bound to, if any
  };
  struct TokenRecord {
    TokenKind kind;
    std::uint64_t grant_id;
    std::string jti;
    TimePoint issued;
    TimePoint expires;
    bool retired = false;  // rotated-out refresh token, or revoked access token
    std::string jkt;       // the DPoP key it is bound to, if any
  };
  struct FailureWindow {
    TimePoint start;
    int failures = 0;
  };

  using DeviceGrants = std::unordered_map<std::string, DeviceGrant>;  // by SHA-256(device_code)
  using DeviceEntry = DeviceGrants::value_type;
  using DeviceIndex = std::unordered_map<std::string, DeviceEntry*>;  // user code -> grant
  // One device grant in expiry order. Element pointers of an unordered_map survive rehashing.
  struct CodeExpiry {
    TimePoint expires;
    DeviceEntry* entry;
  };
  // Unlinked device grants, destroyed by the caller after it releases the lock, so that their
  // frees do not lengthen the critical section.
  struct Reclaimed {
    std::vector<DeviceGrants::node_type> grants;
    std::vector<DeviceIndex::node_type> index;
  };

  void sweep_locked(TimePoint now);
  void sweep_tokens_locked(TimePoint now);
  // Forgets every device grant that expires at or before `cutoff` in O(log n): they become a
  // prefix of code_expiries_ that lookups treat as absent, unlinked later a few at a time.
  void forget_codes_expiring_by_locked(TimePoint cutoff);
  // Unlinks up to `limit` forgotten grants from the front; returns how many.
  std::size_t reclaim_forgotten_locked(std::size_t limit, Reclaimed& reclaimed);
  [[nodiscard]] bool forgotten(const DeviceGrant& grant) const {
    return forgotten_count_ > 0 && grant.expires <= forgotten_by_;
  }
  [[nodiscard]] std::size_t live_code_count_locked() const {
    return device_grants_.size() - forgotten_count_;
  }
  void auto_approve_locked(DeviceGrant& grant, TimePoint now);
  void sweep_auth_codes_locked(TimePoint now);
  void erase_token_locked(std::unordered_map<std::string, TokenRecord>::iterator it);

  StateSettings settings_;
  std::mutex mutex_;
  DeviceGrants device_grants_;
  DeviceIndex device_by_user_code_;
  // Every device grant, ordered by expiry (ties in insertion order). All codes get the same TTL,
  // so a new code belongs at the back and reclaiming expired codes pops from the front: O(1)
  // amortized per code instead of a scan of the whole table under the lock.
  std::deque<CodeExpiry> code_expiries_;
  // Grants dropped from the table but not yet unlinked: the first forgotten_count_ entries of
  // code_expiries_, exactly the grants that expire at or before forgotten_by_ (a new grant that
  // would fall in that range first has every forgotten grant unlinked). Dropping a full table's
  // expired codes thus costs a binary search, and the unlinking is spread over later requests
  // and the sweeper, instead of stalling every request for tens of thousands of erasures.
  std::size_t forgotten_count_ = 0;
  TimePoint forgotten_by_ = TimePoint::min();
  std::unordered_map<std::uint64_t, TokenGrant> grants_;
  std::uint64_t next_grant_id_ = 1;
  std::unordered_map<std::string, TokenRecord> tokens_;  // by SHA-256(token)
  std::unordered_map<std::string, BrowserSession> sessions_;
  std::unordered_map<std::string, AuthCode> auth_codes_;  // by SHA-256(code)
  std::unordered_map<std::string, FailureWindow> failures_;
  // No token expires before this, so a full token table is not rescanned on every request.
  TimePoint earliest_token_expiry_ = TimePoint::max();
};

// Splits a space-delimited scope string (RFC 6749 §3.3) into its tokens.
[[nodiscard]] std::vector<std::string> split_scope(std::string_view scope);
// True when every token of `requested` is in `granted`.
[[nodiscard]] bool scope_subset(std::string_view requested, std::string_view granted);
// True when the scope contains `token`.
[[nodiscard]] bool scope_has(std::string_view scope, std::string_view token);

}  // namespace devicelogin::devserver
