#include "devicelogin/session.hpp"

#include <cstdlib>
#include <string_view>

#include "core/redaction.hpp"
#include "http/server_time.hpp"
#include "oauth/device_flow.hpp"
#include "session/id_token.hpp"
#include "oauth/oauth_client.hpp"

namespace devicelogin {

// Hidden: a nested class takes the exported Session's visibility, and its members are internals.
struct [[gnu::visibility("hidden")]] Session::Impl {
  Impl(Profile profile_in, std::unique_ptr<TokenStore> store_in, HttpClient& http_in, Clock& clock_in)
      : profile(std::move(profile_in)), store(std::move(store_in)), http(http_in, clock_in), clock(clock_in) {}

  Profile profile;
  std::unique_ptr<TokenStore> store;
  // Every request goes through it, so that the server's clock is learned from each answer.
  ServerClockObserver http;
  Clock& clock;

  [[nodiscard]] long long now() const { return to_unix(clock.now()); }
  // "Now" on the server's clock, for judging times the server issued (ID token iat, exp, nbf).
  [[nodiscard]] long long server_now() const { return http.server_now(); }

  // A JWT `exp` is a time on the server's clock; stored expiries are on the local clock, so that
  // `token`'s check (here and in the lean executable) compares like with like.
  void adopt_server_times(oauth::TokenReply& reply) const {
    if (reply.expires_at_from_jwt && reply.tokens.expires_at && http.offset()) {
      reply.tokens.expires_at = *reply.tokens.expires_at - *http.offset();
    }
  }

  // Held across load -> refresh -> save, so that of many racing processes one refreshes and the
  // others reuse its result (refresh-token rotation would otherwise revoke the grant).
  static constexpr std::chrono::milliseconds kLockTimeout{30'000};
  Result<StoreLock> lock() { return store->lock(profile.name, kLockTimeout); }

  Error not_logged_in() const {
    return Error{ErrorCode::kNotLoggedIn,
                 "not logged in (profile " + profile.name + "); run: devicelogin login --profile " + profile.name, "", 0};
  }

  Result<TokenSet> load_required() {
    auto loaded = store->load(profile.name);
    if (!loaded) return std::unexpected(loaded.error());
    if (!*loaded) return std::unexpected(not_logged_in());
    return std::move(**loaded);
  }

  // Records where `tokens` may be sent back: this profile's token endpoint and client.
  void bind(TokenSet& tokens) const {
    tokens.token_endpoint = profile.endpoints.token;
    tokens.client_id = profile.client_id;
  }

  // Why `tokens` must not be used with this profile's server, or empty when they may be.
  std::string bound_elsewhere(const TokenSet& tokens) const {
    if (bound_to(tokens, profile.endpoints.token, profile.client_id)) return {};
    return "the stored tokens were issued to client " + tokens.client_id + " by " + redact_url(tokens.token_endpoint) +
           ", but profile " + profile.name + " now names client " + profile.client_id + " at " +
           redact_url(profile.endpoints.token);
  }

  Error relogin_elsewhere(const std::string& elsewhere) const {
    return Error{ErrorCode::kReloginRequired,
                 elsewhere + "; not using them. Run: devicelogin login --profile " + profile.name +
                     " with the settings you want (e.g. --issuer or --provider)",
                 "", 0};
  }

  // Saves a set the server has just issued. The test-only environment variable
  // DEVICELOGIN_TEST_FAIL_SAVE_FOR_TEST=1 makes this save fail, so that tests can show what follows
  // a save that fails after issuance (a race or an I/O error cannot be caused on demand). It can
  // only make a save fail, never change what is stored or sent.
  Result<void> save_issued(const TokenSet& tokens) {
    if (const char* inject = std::getenv("DEVICELOGIN_TEST_FAIL_SAVE_FOR_TEST");
        inject != nullptr && std::string_view(inject) == "1") {
      return fail(ErrorCode::kStorage, "cannot save to the " + store->name() + " token store: failure injected for a test");
    }
    return store->save(profile.name, tokens);
  }

  // RFC 7009 revocation of `tokens` at this profile's server: the refresh token first (which ends
  // the grant's access tokens on most servers), then the access token, for those that do not.
  // An empty token is skipped. Never fails: what went wrong is in revocation_problem.
  LogoutOutcome revoke(const TokenSet& tokens) {
    LogoutOutcome outcome;
    if (std::string elsewhere = bound_elsewhere(tokens); !elsewhere.empty()) {
      outcome.revocation_problem = elsewhere + ", so they were not sent there to be revoked";
    } else if (profile.endpoints.revocation.empty()) {
      outcome.revocation_problem = "the server has no revocation endpoint";
    } else {
      oauth::OAuthClient client(profile, http);
      bool all_revoked = true;
      if (!tokens.refresh_token.empty()) {
        if (auto revoked = client.revoke(tokens.refresh_token, "refresh_token"); !revoked) {
          all_revoked = false;
          outcome.revocation_problem = revoked.error().message;
        }
      }
      if (!tokens.access_token.empty()) {
        if (auto revoked = client.revoke(tokens.access_token, "access_token"); !revoked) {
          all_revoked = false;
          if (outcome.revocation_problem.empty()) outcome.revocation_problem = revoked.error().message;
        }
      }
      outcome.revoked = all_revoked;
    }
    return outcome;
  }

  // "the new tokens were revoked at the server" or why not, for messages.
  static std::string describe_revocation(const LogoutOutcome& outcome, const std::string& what) {
    if (outcome.revoked) return what + " were revoked at the server";
    return what + " could not be revoked (" + outcome.revocation_problem + ")";
  }

  // RFC 6749 §6 refresh of `current`, stored before it is returned.
  Result<TokenSet> refresh(TokenSet current) {
    if (std::string elsewhere = bound_elsewhere(current); !elsewhere.empty()) {
      return std::unexpected(relogin_elsewhere(elsewhere));
    }
    if (current.refresh_token.empty()) {
      return fail(ErrorCode::kReloginRequired, "the access token expired and there is no refresh token; run: devicelogin login --profile " + profile.name);
    }
    // Room for the new set is proved before the server rotates the refresh token: a save that
    // failed afterwards would cost the session.
    if (auto room = store->check_capacity(profile.name); !room) return std::unexpected(room.error());
    oauth::OAuthClient client(profile, http);
    // Without a usable Date in the answer, the offset learned last (kept with the tokens) stands.
    http.assume_offset(current.clock_offset_s ? current.clock_offset_s : profile.clock_offset_s);
    auto reply = client.refresh(current.refresh_token, now());
    if (!reply) return std::unexpected(reply.error());
    switch (reply->kind) {
      case oauth::TokenReply::Kind::kTransient:
        return fail(ErrorCode::kServer, "the token endpoint is unavailable (HTTP " + std::to_string(reply->http_status) + "); try again later", "",
                    reply->http_status);
      case oauth::TokenReply::Kind::kError: {
        if (reply->error.error == "invalid_grant") {
          // The refresh token is dead (expired, revoked, or reused): drop it, keep the profile.
          current.refresh_token.wipe();
          if (auto saved = store->save(profile.name, current); !saved) return std::unexpected(saved.error());
          return fail(ErrorCode::kReloginRequired,
                      "re-login required: the refresh token was rejected; run: devicelogin login --profile " + profile.name,
                      "invalid_grant", reply->http_status);
        }
        return fail(ErrorCode::kProtocol, "refresh failed: " + oauth::describe_oauth_error(reply->error), reply->error.error,
                    reply->http_status);
      }
      case oauth::TokenReply::Kind::kTokens: break;
    }
    adopt_server_times(*reply);
    TokenSet fresh = std::move(reply->tokens);
    fresh.clock_offset_s = http.offset();
    if (!fresh.id_token.empty()) {
      // OIDC Core §12.2: a refreshed ID token is validated like the first, and names the same user.
      auto valid = check_id_token(profile, http, fresh, server_now(), profile.jwks_cache, profile.jwks_cache_expires_at);
      if (valid && !current.subject.empty() && fresh.subject != current.subject) {
        valid = fail(ErrorCode::kServer, "the refreshed ID token names a different user than the login did");
      }
      if (!valid) {
        // The server has already rotated the refresh token: keep the new one (and nothing else),
        // or the next refresh would present a spent token and trip reuse detection.
        if (!fresh.refresh_token.empty()) {
          current.refresh_token = fresh.refresh_token;
          current.refresh_expires_at = fresh.refresh_expires_at;
          (void)store->save(profile.name, current);
        }
        return std::unexpected(valid.error());
      }
    }
    // RFC 6749 §6: the server MAY issue a new refresh token (rotation); keep the old one otherwise.
    if (fresh.refresh_token.empty()) {
      fresh.refresh_token = current.refresh_token;
      fresh.refresh_expires_at = current.refresh_expires_at;
    }
    if (fresh.id_token.empty()) fresh.id_token = current.id_token;
    if (fresh.scope.empty()) fresh.scope = current.scope;
    if (fresh.subject.empty()) fresh.subject = current.subject;
    bind(fresh);
    if (auto saved = save_issued(fresh); !saved) {
      // The stored set is left exactly as it was. The new tokens would be held by nobody: revoke
      // them, except a refresh token that was not rotated, which is the stored set's own.
      const bool rotated = !fresh.refresh_token.equals(current.refresh_token);
      TokenSet orphaned = fresh;
      if (!rotated) orphaned.refresh_token.wipe();
      Error error = saved.error();
      error.message += "; " + describe_revocation(revoke(orphaned), "the refreshed tokens");
      error.message += rotated ? "; the stored tokens are kept as they were, but the server has replaced their refresh "
                                 "token, so they cannot be refreshed again: re-login required (profile " +
                                     profile.name + ") once the token store can be written"
                               : "; the stored tokens are kept as they were";
      return std::unexpected(error);
    }
    return fresh;
  }
};

Session::Session(Profile profile, std::unique_ptr<TokenStore> store, HttpClient& http, Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(profile), std::move(store), http, clock)) {}
Session::~Session() = default;
Session::Session(Session&&) noexcept = default;

const Profile& Session::profile() const { return impl_->profile; }
TokenStore& Session::store() { return *impl_->store; }

Result<TokenInfo> Session::login(const LoginObserver& observer) {
  Impl& self = *impl_;
  // Room for the set is proved before the server is asked for anything: a store that turns out to
  // be full only after approval wastes the user's approval and leaves issued tokens unheld.
  if (auto room = self.store->check_capacity(self.profile.name); !room) return std::unexpected(room.error());
  // Discovery's offset (prepare_profile) stands until an answer of this login gives one.
  self.http.assume_offset(self.profile.clock_offset_s);
  oauth::OAuthClient client(self.profile, self.http);
  auto authorization = client.request_device_code();
  if (!authorization) return std::unexpected(authorization.error());
  const SystemTime issued_at = self.clock.now();
  // The user will open these: the same https-or-loopback rule as for our own requests.
  if (auto policy = check_url_policy(authorization->verification_uri, "the verification URI"); !policy) {
    return fail(ErrorCode::kServer, policy.error().message);
  }
  if (!authorization->verification_uri_complete.empty()) {
    if (auto policy = check_url_policy(authorization->verification_uri_complete, "the verification URI"); !policy) {
      return fail(ErrorCode::kServer, policy.error().message);
    }
  }
  // A page on the user's own machine is what a local development server serves; a remote server
  // naming one would have the browser open (and maybe act on) some local service instead.
  if (!is_loopback_url(self.profile.endpoints.device_authorization)) {
    for (const std::string* uri : {&authorization->verification_uri, &authorization->verification_uri_complete}) {
      if (is_loopback_url(*uri)) {
        return fail(ErrorCode::kServer, "the verification URI " + redact_url(*uri) +
                                            " is on this machine (loopback), but the authorization server is not; "
                                            "refusing to show it");
      }
    }
  }
  if (observer.on_code) {
    observer.on_code(DeviceCodePrompt{authorization->user_code, authorization->verification_uri,
                                      authorization->verification_uri_complete, authorization->message,
                                      authorization->expires_in, authorization->interval});
  }

  oauth::DeviceFlow flow(issued_at, authorization->expires_in, authorization->interval);
  std::optional<TokenSet> tokens;
  for (;;) {
    oauth::FlowAction action = flow.next();
    if (action.kind == oauth::FlowAction::Kind::kFailed) return std::unexpected(action.error);
    if (action.kind == oauth::FlowAction::Kind::kDone) break;
    if (observer.on_waiting) {
      observer.on_waiting(std::chrono::duration_cast<Seconds>(flow.deadline() - self.clock.now()).count());
    }
    if (!self.clock.sleep_until(action.poll_at)) return fail(ErrorCode::kCancelled, "login cancelled");
    auto reply = client.poll_token(authorization->device_code, self.now());
    oauth::PollOutcome outcome;
    if (!reply) {
      if (reply.error().code == ErrorCode::kNetwork) {
        outcome.kind = oauth::PollOutcome::Kind::kTransient;
      } else {
        outcome.kind = oauth::PollOutcome::Kind::kFatal;
      }
      outcome.error = reply.error();
    } else if (reply->kind == oauth::TokenReply::Kind::kTransient) {
      outcome.kind = oauth::PollOutcome::Kind::kTransient;
      outcome.retry_after = reply->retry_after;
      outcome.error = Error{ErrorCode::kServer, "the token endpoint answered HTTP " + std::to_string(reply->http_status), "",
                            reply->http_status};
    } else if (reply->kind == oauth::TokenReply::Kind::kError) {
      outcome.kind = oauth::classify_poll_error(reply->error.error);
      outcome.server_interval = reply->error.interval;
      outcome.error = Error{outcome.kind == oauth::PollOutcome::Kind::kTransient ? ErrorCode::kServer : ErrorCode::kProtocol,
                            "login failed: " + oauth::describe_oauth_error(reply->error), reply->error.error, reply->http_status};
    } else {
      outcome.kind = oauth::PollOutcome::Kind::kSuccess;
      self.adopt_server_times(*reply);
      tokens = std::move(reply->tokens);
    }
    flow.on_outcome(outcome, self.clock.now());
  }
  // OIDC Core §3.1.3.7: an ID token that does not verify means nothing is stored. Its times are
  // the server's, so they are judged on the server's clock (the skew allowance on top of that).
  if (auto valid = check_id_token(self.profile, self.http, *tokens, self.server_now(), self.profile.jwks_cache,
                                   self.profile.jwks_cache_expires_at); !valid) {
    return std::unexpected(valid.error());
  }
  tokens->clock_offset_s = self.http.offset();
  self.profile.clock_offset_s = self.http.offset();
  self.bind(*tokens);
  // Issued tokens that cannot be stored are revoked (RFC 7009), so that none stays live unheld.
  auto abandon = [&](Error error) {
    error.message += "; " + Impl::describe_revocation(self.revoke(*tokens), "the new tokens") + ", nothing was stored";
    return std::unexpected(std::move(error));
  };
  auto lock = self.lock();
  if (!lock) return abandon(lock.error());
  // The set this login replaces: revoked once the new one is saved, as logout would.
  std::optional<TokenSet> replaced;
  if (auto loaded = self.store->load(self.profile.name); loaded && *loaded) replaced = std::move(**loaded);
  if (auto saved = self.save_issued(*tokens); !saved) return abandon(saved.error());
  if (replaced) {
    // A token the new set shares with the old one (none should) is not revoked.
    if (replaced->refresh_token.equals(tokens->refresh_token)) replaced->refresh_token.wipe();
    if (replaced->access_token.equals(tokens->access_token)) replaced->access_token.wipe();
    LogoutOutcome outcome = self.revoke(*replaced);
    outcome.deleted = true;
    if (observer.on_replaced) observer.on_replaced(outcome);
  }
  return token_info(*tokens);
}

Result<Secret> Session::access_token(long long min_ttl) {
  Impl& self = *impl_;
  auto tokens = self.load_required();
  if (!tokens) return std::unexpected(tokens.error());
  // An access token issued to another server or client is not handed out for this profile either.
  if (std::string elsewhere = self.bound_elsewhere(*tokens); !elsewhere.empty()) {
    return std::unexpected(self.relogin_elsewhere(elsewhere));
  }
  if (tokens->fresh_at(self.now(), min_ttl)) return tokens->access_token;
  const long long seen_obtained_at = tokens->obtained_at;
  auto lock = self.lock();
  if (!lock) return std::unexpected(lock.error());
  // Another process may have refreshed while we waited for the lock. Its token is used even when
  // the server's lifetime is shorter than min_ttl, so that racing processes refresh only once.
  tokens = self.load_required();
  if (!tokens) return std::unexpected(tokens.error());
  if (std::string elsewhere = self.bound_elsewhere(*tokens); !elsewhere.empty()) {
    return std::unexpected(self.relogin_elsewhere(elsewhere));
  }
  if (tokens->fresh_at(self.now(), min_ttl)) return tokens->access_token;
  if (tokens->obtained_at > seen_obtained_at && tokens->fresh_at(self.now(), 0)) return tokens->access_token;
  auto fresh = self.refresh(std::move(*tokens));
  if (!fresh) return std::unexpected(fresh.error());
  if (!fresh->fresh_at(self.now(), min_ttl) && fresh->expires_at && *fresh->expires_at <= self.now()) {
    return fail(ErrorCode::kServer, "the server issued an access token that is already expired");
  }
  return fresh->access_token;
}

Result<HttpResponse> Session::fetch(HttpRequest request, long long min_ttl) {
  Impl& self = *impl_;
  auto send_with = [&](const TokenSet& tokens) {
    HttpRequest authorized = request;
    // RFC 6750 §2.1. Servers that return "bearer" (lower case) accept "Bearer" too.
    // Headers are plain strings: sized once so that no reallocation leaves a copy, wiped below.
    std::string bearer;
    bearer.reserve(7 + tokens.access_token.size());
    bearer.append("Bearer ").append(tokens.access_token.reveal());
    authorized.headers.emplace_back("Authorization", std::move(bearer));
    // An API is another server with its own clock: not observed.
    auto response = self.http.inner().send(authorized);
    for (auto& [name, value] : authorized.headers) wipe_string(value);
    return response;
  };
  auto token = access_token(min_ttl);
  if (!token) return std::unexpected(token.error());
  TokenSet current;
  current.access_token = std::move(*token);
  auto response = send_with(current);
  if (!response || response->status != 401) return response;
  // The token was revoked or expired early: one refresh, one retry.
  auto refreshed = refresh();
  if (!refreshed) return std::unexpected(refreshed.error());
  auto again = access_token(0);
  if (!again) return std::unexpected(again.error());
  current.access_token = std::move(*again);
  return send_with(current);
}

Result<TokenInfo> Session::refresh() {
  Impl& self = *impl_;
  auto lock = self.lock();
  if (!lock) return std::unexpected(lock.error());
  auto tokens = self.load_required();
  if (!tokens) return std::unexpected(tokens.error());
  auto fresh = self.refresh(std::move(*tokens));
  if (!fresh) return std::unexpected(fresh.error());
  return token_info(*fresh);
}

Result<LogoutOutcome> Session::logout() {
  Impl& self = *impl_;
  LogoutOutcome outcome;
  auto lock = self.lock();
  if (!lock) return std::unexpected(lock.error());
  auto loaded = self.store->load(self.profile.name);
  if (!loaded) {
    // Unreadable (unsafe permissions, corrupt): nothing to revoke with, but delete it all the same.
    outcome.revocation_problem = loaded.error().message;
    auto removed = self.store->remove(self.profile.name);
    if (!removed) return std::unexpected(removed.error());
    outcome.deleted = *removed;
    return outcome;
  }
  if (!*loaded) {
    outcome.revocation_problem = "nothing was stored";
    return outcome;
  }
  outcome = self.revoke(**loaded);
  // Local deletion happens whatever revocation did.
  auto removed = self.store->remove(self.profile.name);
  if (!removed) return std::unexpected(removed.error());
  outcome.deleted = *removed;
  return outcome;
}

Result<std::optional<TokenInfo>> Session::status() {
  auto loaded = impl_->store->load(impl_->profile.name);
  if (!loaded) return std::unexpected(loaded.error());
  if (!*loaded) return std::optional<TokenInfo>{};
  return std::optional<TokenInfo>{token_info(**loaded)};
}

}  // namespace devicelogin
