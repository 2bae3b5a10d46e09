#include "state.hpp"

#include <algorithm>
#include <iterator>

namespace devicelogin::devserver {

namespace {
constexpr long long kSlowDownStep = 5;  // RFC 8628 §3.5: "increased by 5 seconds"
}

std::vector<std::string> split_scope(std::string_view scope) {
  std::vector<std::string> tokens;
  std::size_t position = 0;
  while (position < scope.size()) {
    std::size_t end = scope.find(' ', position);
    if (end == std::string_view::npos) end = scope.size();
    if (end > position) tokens.emplace_back(scope.substr(position, end - position));
    position = end + 1;
  }
  return tokens;
}

bool scope_has(std::string_view scope, std::string_view token) {
  for (const auto& item : split_scope(scope)) {
    if (item == token) return true;
  }
  return false;
}

bool scope_subset(std::string_view requested, std::string_view granted) {
  auto have = split_scope(granted);
  for (const auto& item : split_scope(requested)) {
    if (std::find(have.begin(), have.end(), item) == have.end()) return false;
  }
  return true;
}

namespace {
// Hash-map capacity reserved up front, so that the maps never rehash under the lock. Larger
// --max-codes values still work, with rehashes past this size (8 MiB of buckets per map here).
constexpr std::size_t kMaxReservedCodes = std::size_t{1} << 20;
// Forgotten grants unlinked by each device authorization (more than the one it adds, so the
// backlog shrinks while the table refills), and by the sweeper per lock acquisition.
constexpr std::size_t kReclaimPerAdd = 4;
constexpr std::size_t kReclaimPerSweepStep = 512;
}  // namespace

State::State(StateSettings settings) : settings_(std::move(settings)) {
  // Forgotten grants still linked add up to one more table's worth.
  std::size_t reserved = std::min(settings_.max_codes, kMaxReservedCodes / 2) * 2;
  device_grants_.reserve(reserved);
  device_by_user_code_.reserve(reserved);
}

// By value and moved into the table on success (the caller moves it in); the check misses that move.
// NOLINTNEXTLINE(performance-unnecessary-value-param)
State::AddResult State::add_device_grant(std::string device_key, DeviceGrant grant, TimePoint now) {
  Reclaimed reclaimed;  // destroyed after the lock is released (declared before it)
  std::lock_guard lock(mutex_);
  reclaim_forgotten_locked(kReclaimPerAdd, reclaimed);
  if (live_code_count_locked() >= settings_.max_codes) {
    // A full table first drops its expired codes.
    forget_codes_expiring_by_locked(now);
    if (live_code_count_locked() >= settings_.max_codes) return AddResult::kFull;
  }
  auto index = device_by_user_code_.find(grant.user_code);
  auto existing = device_grants_.find(device_key);
  bool collides_with_forgotten = (index != device_by_user_code_.end() && forgotten(index->second->second)) ||
                                 (existing != device_grants_.end() && forgotten(existing->second));
  // Rare (a clock step back, or a new code equal to a dropped one): unlink every forgotten grant
  // now, so that the forgotten ones stay exactly those expiring by forgotten_by_.
  if (collides_with_forgotten || (forgotten_count_ > 0 && grant.expires <= forgotten_by_)) {
    reclaim_forgotten_locked(forgotten_count_, reclaimed);
    index = device_by_user_code_.find(grant.user_code);
    existing = device_grants_.find(device_key);
  }
  if (index != device_by_user_code_.end() || existing != device_grants_.end()) {
    return AddResult::kUserCodeTaken;
  }
  TimePoint expires = grant.expires;
  DeviceEntry* entry = &*device_grants_.try_emplace(std::move(device_key), std::move(grant)).first;
  device_by_user_code_.emplace(entry->second.user_code, entry);
  // Same TTL for every code: this is the back, unless the clock stepped back or two requests
  // read the clock in the other order than they took the lock (then a few steps from the back).
  auto position = code_expiries_.end();
  while (position != code_expiries_.begin() && std::prev(position)->expires > expires) --position;
  code_expiries_.insert(position, CodeExpiry{expires, entry});
  return AddResult::kAdded;
}

void State::auto_approve_locked(DeviceGrant& grant, TimePoint now) {
  if (grant.status != DeviceStatus::kPending || !settings_.auto_approve_after) return;
  if (now < grant.expires && now >= grant.created + *settings_.auto_approve_after) {
    grant.status = DeviceStatus::kApproved;
    grant.username = settings_.auto_approve_user;
    grant.decided = grant.created + *settings_.auto_approve_after;
  }
}

PollOutcome State::poll(const std::string& device_key, std::string_view client_id, TimePoint now) {
  using Kind = PollOutcome::Kind;
  std::lock_guard lock(mutex_);
  auto it = device_grants_.find(device_key);
  // RFC 8628 §3.5 / RFC 6749 §5.2: an unknown code, or one issued to another client, is invalid_grant.
  if (it == device_grants_.end() || forgotten(it->second) || it->second.client_id != client_id) {
    return {Kind::kInvalidGrant, {}, {}, {}, {}};
  }
  DeviceGrant& grant = it->second;
  // A device code is redeemable once.
  if (grant.status == DeviceStatus::kRedeemed) return {Kind::kInvalidGrant, {}, {}, {}, {}};
  if (now >= grant.expires) return {Kind::kExpired, {}, {}, {}, {}};
  auto_approve_locked(grant, now);
  ++grant.polls;
  std::optional<TimePoint> previous = grant.last_poll;
  grant.last_poll = now;
  switch (grant.status) {
    case DeviceStatus::kDenied:
      return {Kind::kDenied, {}, {}, {}, {}};
    case DeviceStatus::kApproved:
      // A soft bound: concurrent issuers may overshoot by a few records.
      if (tokens_.size() + 2 > settings_.max_tokens) {
        if (now >= earliest_token_expiry_) sweep_tokens_locked(now);
        if (tokens_.size() + 2 > settings_.max_tokens) return {Kind::kFull, {}, {}, {}, {}};
      }
      grant.status = DeviceStatus::kRedeemed;
      return {Kind::kApproved, grant.client_id, grant.scope, grant.username, grant.decided};
    case DeviceStatus::kRedeemed:
    case DeviceStatus::kPending:
      break;
  }
  // RFC 8628 §3.5: polling faster than the interval earns slow_down, and the interval for this
  // device code grows by 5 seconds each time.
  bool too_fast = previous && grant.interval > 0 &&
                  now - *previous < Millis(grant.interval * 1000) - settings_.poll_tolerance;
  bool injected = settings_.slow_down_every > 0 && grant.polls % settings_.slow_down_every == 0;
  if (too_fast || injected) {
    grant.interval += kSlowDownStep;
    return {Kind::kSlowDown, {}, {}, {}, {}};
  }
  return {Kind::kPending, {}, {}, {}, {}};
}

std::optional<DeviceGrant> State::pending_grant(const std::string& user_code, TimePoint now) {
  std::lock_guard lock(mutex_);
  auto index = device_by_user_code_.find(user_code);
  if (index == device_by_user_code_.end()) return std::nullopt;
  DeviceGrant& grant = index->second->second;
  if (forgotten(grant)) return std::nullopt;
  auto_approve_locked(grant, now);
  if (grant.status != DeviceStatus::kPending || now >= grant.expires) return std::nullopt;
  return grant;
}

UserCodeStatus State::user_code_status(const std::string& user_code, TimePoint now) {
  std::lock_guard lock(mutex_);
  auto index = device_by_user_code_.find(user_code);
  if (index == device_by_user_code_.end()) return UserCodeStatus::kUnknown;
  DeviceGrant& grant = index->second->second;
  if (forgotten(grant)) return UserCodeStatus::kUnknown;
  auto_approve_locked(grant, now);
  if (grant.status != DeviceStatus::kPending) return UserCodeStatus::kUsed;
  return now >= grant.expires ? UserCodeStatus::kExpired : UserCodeStatus::kPending;
}

bool State::decide(const std::string& user_code, const std::string& username, bool approve,
                   TimePoint now) {
  std::lock_guard lock(mutex_);
  auto index = device_by_user_code_.find(user_code);
  if (index == device_by_user_code_.end()) return false;
  DeviceGrant& grant = index->second->second;
  if (forgotten(grant)) return false;
  auto_approve_locked(grant, now);
  if (grant.status != DeviceStatus::kPending || now >= grant.expires) return false;
  grant.status = approve ? DeviceStatus::kApproved : DeviceStatus::kDenied;
  grant.username = username;
  grant.decided = now;
  return true;
}

std::uint64_t State::create_grant(const std::string& client_id, const std::string& username,
                                  const std::string& scope, TimePoint auth_time, std::string refresh_jkt) {
  std::lock_guard lock(mutex_);
  std::uint64_t id = next_grant_id_++;
  grants_.emplace(id, TokenGrant{client_id, username, scope, auth_time, false, 0, std::move(refresh_jkt)});
  return id;
}

void State::add_token(const std::string& token_key, TokenKind kind, std::uint64_t grant_id,
                      std::string jti, TimePoint issued, TimePoint expires, std::string jkt) {
  std::lock_guard lock(mutex_);
  auto grant = grants_.find(grant_id);
  if (grant == grants_.end()) return;
  auto [it, inserted] = tokens_.try_emplace(
      token_key, TokenRecord{kind, grant_id, std::move(jti), issued, expires, false, std::move(jkt)});
  if (inserted) {
    ++grant->second.live_tokens;
    earliest_token_expiry_ = std::min(earliest_token_expiry_, expires);
  }
}

RefreshOutcome State::refresh(const std::string& token_key, std::string_view client_id,
                              std::string_view scope, TimePoint now, std::string_view proof_jkt,
                              bool bind) {
  using Kind = RefreshOutcome::Kind;
  std::lock_guard lock(mutex_);
  auto it = tokens_.find(token_key);
  if (it == tokens_.end() || it->second.kind != TokenKind::kRefresh) return {Kind::kInvalidGrant, {}};
  TokenRecord& record = it->second;
  auto grant = grants_.find(record.grant_id);
  if (grant == grants_.end() || grant->second.revoked || now >= record.expires) {
    return {Kind::kInvalidGrant, {}};
  }
  // RFC 6749 §6: the refresh token is bound to the client it was issued to.
  if (grant->second.client_id != client_id) return {Kind::kInvalidGrant, {}};
  // RFC 9449 §5: a refresh token bound to a DPoP key needs a proof made with that key. Checked
  // before reuse detection, so that a copy presented without the key cannot revoke the grant.
  const std::string& bound_to = grant->second.refresh_jkt;
  if (!bound_to.empty() && bound_to != proof_jkt) return {Kind::kKeyMismatch, {}};
  if (record.retired) {
    // RFC 9700 §4.14.2: a rotated-out refresh token came back, so one of its holders is an
    // attacker; revoke the whole grant (every access and refresh token of it).
    grant->second.revoked = true;
    return {Kind::kReuseDetected, {}};
  }
  // RFC 6749 §6: a refresh may narrow the scope, never widen it.
  if (!scope.empty() && !scope_subset(scope, grant->second.scope)) return {Kind::kInvalidScope, {}};
  if (tokens_.size() + 2 > settings_.max_tokens) {
    if (now >= earliest_token_expiry_) sweep_tokens_locked(now);
    if (tokens_.size() + 2 > settings_.max_tokens) return {Kind::kFull, {}};
  }
  record.retired = true;
  if (bind && bound_to.empty() && !proof_jkt.empty()) grant->second.refresh_jkt = std::string(proof_jkt);
  TokenView view;
  view.kind = TokenKind::kRefresh;
  view.grant_id = record.grant_id;
  view.client_id = grant->second.client_id;
  view.username = grant->second.username;
  view.scope = scope.empty() ? grant->second.scope : std::string(scope);
  view.auth_time = grant->second.auth_time;
  view.jkt = grant->second.refresh_jkt;
  return {Kind::kOk, std::move(view)};
}

std::optional<TokenView> State::lookup(const std::string& token_key, TimePoint now) {
  std::lock_guard lock(mutex_);
  auto it = tokens_.find(token_key);
  if (it == tokens_.end() || it->second.retired || now >= it->second.expires) return std::nullopt;
  auto grant = grants_.find(it->second.grant_id);
  if (grant == grants_.end() || grant->second.revoked) return std::nullopt;
  TokenView view;
  view.kind = it->second.kind;
  view.grant_id = it->second.grant_id;
  view.client_id = grant->second.client_id;
  view.username = grant->second.username;
  view.scope = grant->second.scope;
  view.jti = it->second.jti;
  view.jkt = it->second.jkt;
  view.issued = it->second.issued;
  view.expires = it->second.expires;
  view.auth_time = grant->second.auth_time;
  return view;
}

bool State::revoke(const std::string& token_key, std::string_view client_id) {
  std::lock_guard lock(mutex_);
  auto it = tokens_.find(token_key);
  if (it == tokens_.end()) return false;
  auto grant = grants_.find(it->second.grant_id);
  if (grant == grants_.end() || grant->second.client_id != client_id) return false;
  if (it->second.kind == TokenKind::kRefresh) {
    // RFC 7009 §2.1: revoking a refresh token also invalidates the access tokens of its grant.
    bool was_live = !grant->second.revoked;
    grant->second.revoked = true;
    return was_live;
  }
  bool was_live = !it->second.retired && !grant->second.revoked;
  it->second.retired = true;
  return was_live;
}

// By value and moved into the table (try_emplace moves it only when inserting); the check misses that.
// NOLINTNEXTLINE(performance-unnecessary-value-param)
bool State::add_auth_code(std::string code_key, AuthCode code, TimePoint now) {
  std::lock_guard lock(mutex_);
  if (auth_codes_.size() >= settings_.max_codes) {
    sweep_auth_codes_locked(now);
    if (auth_codes_.size() >= settings_.max_codes) return false;
  }
  return auth_codes_.try_emplace(std::move(code_key), std::move(code)).second;
}

AuthCodeOutcome State::redeem_auth_code(const std::string& code_key, const AuthCodePresentation& presented,
                                        TimePoint now, std::string refresh_jkt) {
  using Kind = AuthCodeOutcome::Kind;
  std::lock_guard lock(mutex_);
  auto it = auth_codes_.find(code_key);
  if (it == auth_codes_.end()) return {Kind::kUnknown, {}, {}};
  AuthCode& code = it->second;
  if (code.redeemed) {
    // RFC 6749 §4.1.2: a code used more than once is refused, and the tokens issued for it
    // are revoked (one of its users is an attacker).
    if (auto grant = grants_.find(code.grant_id); code.grant_id != 0 && grant != grants_.end()) {
      grant->second.revoked = true;
    }
    return {Kind::kReused, {}, {}};
  }
  if (tokens_.size() + 2 > settings_.max_tokens) {
    if (now >= earliest_token_expiry_) sweep_tokens_locked(now);
    if (tokens_.size() + 2 > settings_.max_tokens) return {Kind::kFull, {}, {}};
  }
  code.redeemed = true;
  if (now >= code.expires) return {Kind::kExpired, {}, {}};
  // RFC 6749 §4.1.3: issued to this client, and the same redirect_uri as in the request.
  if (code.client_id != presented.client_id) return {Kind::kClientMismatch, {}, {}};
  if (code.redirect_uri != presented.redirect_uri) return {Kind::kRedirectMismatch, {}, {}};
  // RFC 7636 §4.6: BASE64URL(SHA256(code_verifier)) == code_challenge.
  // (The challenge is public, it crossed the browser; the verifier never reaches State.)
  if (presented.challenge != code.code_challenge) return {Kind::kVerifierMismatch, {}, {}};
  std::uint64_t id = next_grant_id_++;
  grants_.emplace(id, TokenGrant{code.client_id, code.username, code.scope, code.auth_time, false, 0,
                                 std::move(refresh_jkt)});
  code.grant_id = id;
  TokenView view;
  view.grant_id = id;
  view.client_id = code.client_id;
  view.username = code.username;
  view.scope = code.scope;
  view.auth_time = code.auth_time;
  view.jkt = grants_.at(id).refresh_jkt;
  return {Kind::kOk, std::move(view), code.nonce};
}

std::size_t State::auth_code_count() {
  std::lock_guard lock(mutex_);
  return auth_codes_.size();
}

void State::sweep_auth_codes_locked(TimePoint now) {
  // A spent code is remembered until it would have expired, plus the grace, so that a replay in
  // that time still finds it and revokes its tokens.
  std::erase_if(auth_codes_, [&](const auto& entry) { return now >= entry.second.expires + settings_.expired_grace; });
}

std::optional<BrowserSession> State::session(const std::string& session_key, TimePoint now) {
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(session_key);
  if (it == sessions_.end() || now >= it->second.expires) return std::nullopt;
  return it->second;
}

void State::put_session(const std::string& session_key, BrowserSession session) {
  std::lock_guard lock(mutex_);
  if (!sessions_.contains(session_key) && sessions_.size() >= settings_.max_sessions) {
    auto oldest = std::min_element(sessions_.begin(), sessions_.end(), [](const auto& a, const auto& b) {
      return a.second.expires < b.second.expires;
    });
    if (oldest != sessions_.end()) sessions_.erase(oldest);
  }
  sessions_[session_key] = std::move(session);
}

std::optional<AuthRequest> State::take_auth_request(const std::string& session_key, std::string_view id) {
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(session_key);
  if (it == sessions_.end() || !it->second.auth_request || it->second.auth_request->id != id) return std::nullopt;
  std::optional<AuthRequest> taken = std::move(it->second.auth_request);
  it->second.auth_request.reset();
  return taken;
}

bool State::rate_limited(const std::string& who, TimePoint now) {
  std::lock_guard lock(mutex_);
  auto it = failures_.find(who);
  if (it == failures_.end() || now - it->second.start >= settings_.failure_window) return false;
  return it->second.failures >= settings_.max_failures;
}

void State::record_failure(const std::string& who, TimePoint now) {
  std::lock_guard lock(mutex_);
  auto it = failures_.find(who);
  if (it == failures_.end()) {
    if (failures_.size() >= settings_.max_rate_entries) {
      std::erase_if(failures_, [&](const auto& entry) {
        return now - entry.second.start >= settings_.failure_window;
      });
      // Still full: a flood from many addresses; forget the oldest counters rather than grow.
      if (failures_.size() >= settings_.max_rate_entries) failures_.clear();
    }
    failures_.emplace(who, FailureWindow{now, 1});
    return;
  }
  if (now - it->second.start >= settings_.failure_window) {
    it->second = FailureWindow{now, 1};
  } else {
    ++it->second.failures;
  }
}

void State::sweep(TimePoint now) {
  {
    std::lock_guard lock(mutex_);
    sweep_locked(now);
  }
  // Unlinks the forgotten codes in small steps, so that requests wait for one step at most.
  for (bool more = true; more;) {
    Reclaimed reclaimed;  // destroyed after the lock is released (declared before it)
    std::lock_guard lock(mutex_);
    more = reclaim_forgotten_locked(kReclaimPerSweepStep, reclaimed) == kReclaimPerSweepStep;
  }
}

void State::forget_codes_expiring_by_locked(TimePoint cutoff) {
  if (cutoff <= forgotten_by_) return;
  // Nothing more expires by the cutoff (a table full of live codes): O(1).
  if (forgotten_count_ == code_expiries_.size() || code_expiries_[forgotten_count_].expires > cutoff) return;
  forgotten_by_ = cutoff;
  auto end = std::upper_bound(code_expiries_.begin(), code_expiries_.end(), cutoff,
                              [](TimePoint t, const CodeExpiry& code) { return t < code.expires; });
  forgotten_count_ = static_cast<std::size_t>(end - code_expiries_.begin());
  if (forgotten_count_ == 0) forgotten_by_ = TimePoint::min();
}

std::size_t State::reclaim_forgotten_locked(std::size_t limit, Reclaimed& reclaimed) {
  std::size_t count = std::min(limit, forgotten_count_);
  for (std::size_t i = 0; i < count; ++i) {
    DeviceEntry* entry = code_expiries_.front().entry;
    code_expiries_.pop_front();
    reclaimed.index.push_back(device_by_user_code_.extract(entry->second.user_code));
    reclaimed.grants.push_back(device_grants_.extract(entry->first));
  }
  forgotten_count_ -= count;
  if (forgotten_count_ == 0) forgotten_by_ = TimePoint::min();
  return count;
}

void State::erase_token_locked(std::unordered_map<std::string, TokenRecord>::iterator it) {
  auto grant = grants_.find(it->second.grant_id);
  if (grant != grants_.end() && --grant->second.live_tokens == 0) grants_.erase(grant);
  tokens_.erase(it);
}

void State::sweep_locked(TimePoint now) {
  // Expired codes answer expired_token for the grace period, then are forgotten.
  forget_codes_expiring_by_locked(now - settings_.expired_grace);
  // Tokens of revoked grants stay until they expire, so expiry is the only trigger.
  if (earliest_token_expiry_ != TimePoint::max() && now >= earliest_token_expiry_) sweep_tokens_locked(now);
  std::erase_if(sessions_, [&](const auto& entry) { return now >= entry.second.expires; });
  sweep_auth_codes_locked(now);
  std::erase_if(failures_, [&](const auto& entry) {
    return now - entry.second.start >= settings_.failure_window;
  });
}

void State::sweep_tokens_locked(TimePoint now) {
  earliest_token_expiry_ = TimePoint::max();
  for (auto it = tokens_.begin(); it != tokens_.end();) {
    auto next = std::next(it);
    bool dead = now >= it->second.expires || !grants_.contains(it->second.grant_id);
    // Retired refresh tokens are kept until they expire: they are what reuse detection matches.
    if (dead) {
      erase_token_locked(it);
    } else {
      earliest_token_expiry_ = std::min(earliest_token_expiry_, it->second.expires);
    }
    it = next;
  }
}

std::size_t State::device_grant_count() {
  std::lock_guard lock(mutex_);
  return live_code_count_locked();
}

std::size_t State::token_count() {
  std::lock_guard lock(mutex_);
  return tokens_.size();
}

}  // namespace devicelogin::devserver
