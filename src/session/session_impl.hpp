#pragma once
// Session::Impl: the engine behind the facade (session.cpp: one profile's login, refresh, revoke;
// workflow.cpp: open, sign in with settings). Internal to the session module.
#include "devicelogin/session.hpp"

#include <cstdlib>
#include <optional>
#include <string_view>

#include "core/redaction.hpp"
#include "http/server_time.hpp"
#include "oauth/device_flow.hpp"
#include "session/id_token.hpp"
#include "oauth/oauth_client.hpp"
#include "oauth/providers.hpp"

namespace devicelogin {

// Hidden: a nested class takes the exported Session's visibility, and its members are internals.
struct [[gnu::visibility("hidden")]] Session::Impl {
  Impl(Profile profile_in, std::unique_ptr<TokenStore> store_in, HttpClient& http_in, Clock& clock_in)
      : profile(std::move(profile_in)), store(std::move(store_in)), http(http_in, clock_in), clock(clock_in) {}

  Profile profile;
  std::unique_ptr<TokenStore> store;  // while `missing` says why, a store that fails with that reason
  // Every request goes through it, so that the server's clock is learned from each answer.
  http::ServerClockObserver http;
  Clock& clock;
  // Sessions made by open(): what they own, where their profile is saved, and their options.
  std::shared_ptr<HttpClient> http_owner;
  std::shared_ptr<Clock> clock_owner;
  std::optional<ProfileStore> profiles;
  SessionOptions options;
  // Why an opened session has no usable profile (never saved, or unreadable); empty otherwise.
  std::optional<Error> missing;
  // The profile as saved when the session was opened (also when its store could not be opened).
  std::optional<Profile> saved_profile;
  // During Session::login with settings: the profile signed in before, whose server revokes a
  // replaced set that it issued.
  std::optional<Profile> previous_profile;

  // The missing-profile error, when there is one.
  [[nodiscard]] std::optional<std::unexpected<Error>> unusable() const {
    if (missing) return std::unexpected(*missing);
    return std::nullopt;
  }

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
    return remedy_error(ErrorCode::kNotLoggedIn, "not logged in (profile " + profile.name + ")", Remedy::kSignIn, profile.name);
  }

  // kReloginRequired: sign in again for this profile.
  [[nodiscard]] std::unexpected<Error> relogin(std::string message, std::string oauth_error = {}, int http_status = 0) const {
    Error error = remedy_error(ErrorCode::kReloginRequired, std::move(message), Remedy::kSignIn, profile.name);
    error.oauth_error = std::move(oauth_error);
    error.http_status = http_status;
    return std::unexpected(std::move(error));
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
    return "the stored tokens were issued to client " + tokens.client_id + " by " + core::redact_url(tokens.token_endpoint) +
           ", but profile " + profile.name + " now names client " + profile.client_id + " at " +
           core::redact_url(profile.endpoints.token);
  }

  Error relogin_elsewhere(const std::string& elsewhere) const {
    // Signing in again needs the settings of the server wanted now.
    return remedy_error(ErrorCode::kReloginRequired, elsewhere + "; not using them", Remedy::kSignIn, profile.name, "issuer|provider");
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
    } else if (profile.endpoints.revocation.empty() && !oauth::quirks_for(profile.provider).session_logout_path.empty()) {
      // WorkOS: no RFC 7009, but ending the session kills its refresh token (logout
      // sent nothing and the session lived on).
      oauth::OAuthClient client(profile, http);
      if (auto ended = client.end_session(tokens.access_token); !ended) {
        outcome.revocation_problem = ended.error().message;
      } else {
        outcome.revoked = true;
      }
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
      return relogin("the access token expired and there is no refresh token");
    }
    // Room for the new set is proved before the server rotates the refresh token: a save that
    // failed afterwards would cost the session.
    if (auto room = store->check_capacity(profile.name); !room) return std::unexpected(room.error());
    oauth::OAuthClient client(profile, http);
    // Without a usable Date in the answer, the offset learned last (kept with the tokens) stands.
    http.assume_offset(current.clock_offset_s ? current.clock_offset_s : profile.clock_offset_s);
    auto reply = client.refresh(current.refresh_token, now());
    if (!reply) {
      const Error& error = reply.error();
      // (A 401 that asks for the client's credentials is kConfig, from parse_token_reply: a new
      // sign-in would not change them.)
      if (error.code == ErrorCode::kServer && (error.http_status == 400 || error.http_status == 401)) {
        // A refusal without an OAuth error body (Glewlwyd answers a revoked refresh token with a
        // bare 400/401): the session needs a new sign-in, not a retry later. The set
        // is kept whole (the server may take it again), and the refusal is recorded so that
        // status() says so.
        current.refresh_refused = "the token endpoint refused the refresh token (HTTP " +
                                  std::to_string(error.http_status) + " without an OAuth error)";
        if (auto saved = store->save(profile.name, current); !saved) return std::unexpected(saved.error());
        return relogin("re-login required: " + current.refresh_refused, "", error.http_status);
      }
      return std::unexpected(reply.error());
    }
    switch (reply->kind) {
      case oauth::TokenReply::Kind::kTransient:
      {
        Error error = remedy_error(ErrorCode::kServer,
                                   "the token endpoint is unavailable (HTTP " + std::to_string(reply->http_status) +
                                       "); try again later",
                                   Remedy::kTryAgainLater);
        error.http_status = reply->http_status;
        return std::unexpected(std::move(error));
      }
      case oauth::TokenReply::Kind::kError: {
        if (reply->error.error == "invalid_grant") {
          // The refresh token is dead (expired, revoked, or reused): drop it, keep the profile.
          current.refresh_token.wipe();
          current.refresh_refused = "the server rejected the refresh token (invalid_grant)";
          if (auto saved = store->save(profile.name, current); !saved) return std::unexpected(saved.error());
          return relogin("re-login required: the refresh token was rejected", "invalid_grant", reply->http_status);
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
      auto valid = session::check_id_token(profile, http, fresh, server_now(), profile.jwks_cache, profile.jwks_cache_expires_at);
      if (valid && !current.subject.empty() && fresh.subject != current.subject) {
        valid = fail(ErrorCode::kServer, "the refreshed ID token names a different user than the login did");
      }
      if (!valid) {
        // The server has already rotated the refresh token: keep the new one (and nothing else),
        // or the next refresh would present a spent token and trip reuse detection.
        if (!fresh.refresh_token.empty()) {
          current.refresh_token = fresh.refresh_token;
          current.refresh_expires_at = fresh.refresh_expires_at;
          current.refresh_refused.clear();  // the server took the refresh token this time
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

}  // namespace devicelogin
