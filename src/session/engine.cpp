#include "session/engine.hpp"

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <string_view>
#include <utility>

#include "core/encoding.hpp"
#include "core/fs.hpp"
#include "core/redaction.hpp"
#include "devicelogin/advanced/error_builders.hpp"
#include "devicelogin/sanitize.hpp"
#include "http/loopback_listener.hpp"
#include "http/url_policy.hpp"
#include "oauth/authorization_code.hpp"
#include "oauth/device_flow.hpp"
#include "oauth/oauth_client.hpp"
#include "oauth/verification.hpp"
#include "oauth/providers.hpp"
#include "oauth/wait_for_tokens.hpp"
#include "session/id_token.hpp"
#include "session/policy_rules.hpp"
#include "store/absent_store.hpp"
#include "store/audit.hpp"

namespace devicelogin::session {
namespace {

// Settings that name a server: with any of them, a login prepares the profile afresh.
bool names_a_server(const LoginSettings& settings) {
  return !settings.issuer.empty() || !settings.provider.empty() || !settings.tenant.empty() ||
         !settings.endpoints.device_authorization.empty() || !settings.endpoints.token.empty() ||
         !settings.endpoints.authorization.empty();
}

// True for the token type of a DPoP-bound token (RFC 9449 §5: "DPoP", compared case-insensitively
// as token types are, RFC 6749 §5.1).
bool is_dpop_type(std::string_view token_type) { return core::ascii_lower(token_type) == "dpop"; }

// Copies `value` into a header value sized once, so that no reallocation leaves a copy behind
// (the caller wipes it after sending).
std::string header_value(std::string_view value) {
  std::string header;
  header.reserve(value.size());
  header.append(value);
  return header;
}

// What access_token() hands out of a stored set.
AccessToken handed_out(const TokenSet& tokens) { return AccessToken{tokens.access_token, tokens.token_type, tokens.expires_at}; }

// RFC 9110 §5.6.2: a header name (and a method) is a token.
bool is_http_token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// A request a caller built for fetch(): its mistakes are the caller's (kUsage), found before any
// token is read. Headers that decide where or as whom the token goes are the library's alone:
// Host would move the token to another virtual host of the allowed address, a second
// Authorization, Proxy-Authorization, Cookie or DPoP would speak as someone else next to it.
Result<void> check_request_shape(const HttpRequest& request) {
  auto usage = [](std::string message) { return std::unexpected(Error(ErrorCode::kUsage, std::move(message))); };
  // The HTTP client sends methods of upper-case letters (RFC 9110 §9.1: methods are case-sensitive).
  if (request.method.empty() || request.method.size() > 32 ||
      !std::all_of(request.method.begin(), request.method.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
    return usage("invalid HTTP method \"" + sanitize_text(request.method.substr(0, 32)) +
                 "\" (upper-case letters, e.g. GET or POST)");
  }
  if ((request.method == "GET" || request.method == "HEAD") && !request.body.empty()) {
    return usage("a " + request.method + " request cannot carry a body");
  }
  for (const auto& [name, value] : request.headers) {
    if (name.empty() || !std::all_of(name.begin(), name.end(), is_http_token_char)) {
      return usage("invalid request header name \"" + sanitize_text(name.substr(0, 64)) + "\"");
    }
    if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      return usage("the value of request header " + name + " holds a line break or NUL");
    }
    const std::string lower = core::ascii_lower(name);
    for (std::string_view reserved : {"host", "authorization", "proxy-authorization", "cookie", "dpop"}) {
      if (lower == reserved) {
        return usage("request header " + name +
                     " cannot be set on a request that carries the token: it decides where or as whom the token goes");
      }
    }
  }
  return {};
}

// Why `tokens` must not be used with `profile`'s server, or empty when they may be.
std::string bound_elsewhere(const Profile& profile, const TokenSet& tokens) {
  if (bound_to(tokens, profile.endpoints.token, profile.client_id)) return {};
  return "the stored tokens were issued to client " + tokens.client_id + " by " + core::redact_url(tokens.token_endpoint) +
         ", but profile " + profile.name + " now names client " + profile.client_id + " at " +
         core::redact_url(profile.endpoints.token);
}

// RFC 7009 revocation of `tokens` at `profile`'s server: the refresh token first (which ends the
// grant's access tokens on most servers), then the access token, for those that do not. An empty
// token is skipped. With `dpop`, each request carries a proof of its key (a server may require one
// for a DPoP-bound token, RFC 9449 §5 binds refresh tokens of public clients). Never fails: what
// went wrong is in revocation_problem.
struct RevocationDpop {
  const oauth::DpopKey* key = nullptr;
  oauth::DpopNonceCache* nonces = nullptr;
  std::function<long long()> server_now;
};
LogoutOutcome revoke_at(const Profile& profile, HttpClient& http, const TokenSet& tokens, const RevocationDpop& dpop = {}) {
  LogoutOutcome outcome;
  if (std::string elsewhere = bound_elsewhere(profile, tokens); !elsewhere.empty()) {
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
    if (dpop.key != nullptr) client.use_dpop(*dpop.key, *dpop.nonces, dpop.server_now);
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
std::string describe_revocation(const LogoutOutcome& outcome, const std::string& what) {
  if (outcome.revoked) return what + " were revoked at the server";
  return what + " could not be revoked (" + outcome.revocation_problem + ")";
}

}  // namespace

std::shared_ptr<HttpClient> http_for(const SessionOptions& options, const std::string& ca_file) {
  if (options.http) return options.http;
  HttpOptions http_options;
  http_options.ca_file = ca_file;
  http_options.trace = options.trace;
  return std::shared_ptr<HttpClient>(make_curl_http_client(std::move(http_options)));
}

Result<ProfileStore> profile_store_for(const SessionOptions& options) {
  if (!options.profile_directory.empty()) return ProfileStore(options.profile_directory);
  return ProfileStore::from_environment();
}

Engine::Engine(Profile profile, Result<std::unique_ptr<TokenStore>> store, std::shared_ptr<HttpClient> http,
               std::shared_ptr<Clock> clock, ProfileStore profiles, SessionOptions options, bool saved)
    : profile_(std::move(profile)),
      http_owner_(std::move(http)),
      clock_(std::move(clock)),
      http_(*http_owner_, *clock_),
      profiles_(std::move(profiles)),
      options_(std::move(options)) {
  if (store) {
    store_ = std::move(*store);
  } else {
    unusable_ = store.error();
    // A placeholder that answers every call with the reason.
    store_ = std::make_unique<store::AbsentTokenStore>(saved ? profile_.store : "none", *unusable_,
                                                       saved ? "(cannot be opened)" : "(no saved profile)");
  }
  if (saved) saved_profile_ = profile_;
}

Engine::~Engine() = default;

long long Engine::now() const { return to_unix(clock_->now()); }

Result<StoreLock> Engine::lock() { return store_->lock(profile_.name, kLockTimeout); }

void Engine::adopt_server_times(oauth::TokenReply& reply) const {
  if (reply.expires_at_from_jwt && reply.tokens.expires_at && http_.offset()) {
    reply.tokens.expires_at = *reply.tokens.expires_at - *http_.offset();
  }
}

Error Engine::not_logged_in() const {
  return remedy_error(ErrorCode::kNotLoggedIn, "not logged in (profile " + profile_.name + ")", Remedy::kSignIn, profile_.name);
}

std::unexpected<Error> Engine::relogin(std::string message, std::string oauth_error, int http_status) const {
  Error error = remedy_error(ErrorCode::kReloginRequired, std::move(message), Remedy::kSignIn, profile_.name);
  error.oauth_error = std::move(oauth_error);
  error.http_status = http_status;
  return std::unexpected(std::move(error));
}

Result<TokenSet> Engine::load_required() {
  auto loaded = store_->load(profile_.name);
  if (!loaded) return std::unexpected(loaded.error());
  if (!*loaded) return std::unexpected(not_logged_in());
  return std::move(**loaded);
}

void Engine::bind(TokenSet& tokens) const {
  tokens.token_endpoint = profile_.endpoints.token;
  tokens.client_id = profile_.client_id;
}

std::string Engine::bound_elsewhere(const TokenSet& tokens) const { return session::bound_elsewhere(profile_, tokens); }

Error Engine::relogin_elsewhere(const std::string& elsewhere) const {
  // Signing in again needs the settings of the server wanted now.
  return remedy_error(ErrorCode::kReloginRequired, elsewhere + "; not using them", Remedy::kSignIn, profile_.name, "issuer|provider");
}

Result<void> Engine::save_issued(const TokenSet& tokens) { return store_->save(profile_.name, tokens); }

LogoutOutcome Engine::revoke(const TokenSet& tokens, const oauth::DpopKey* key) {
  std::shared_ptr<const oauth::DpopKey> stored;
  if (key == nullptr) {
    // A DPoP set whose key cannot be read is still revoked, without proofs: revoking only takes a
    // token away, and a server that insists refuses, which the outcome reports.
    if (auto found = dpop_key_of(tokens); found) stored = std::move(*found);
    key = stored.get();
  }
  if (key == nullptr) return revoke_at(profile_, http_, tokens);
  return revoke_at(profile_, http_, tokens, RevocationDpop{key, &dpop_nonces_, [this] { return server_now(); }});
}

Result<TokenSet> Engine::refresh_set(TokenSet current) {
  auto fresh = refresh_set_unaudited(std::move(current));
  if (fresh) {
    audit("refresh", &fresh->access_token, true, nullptr);
  } else {
    audit("refresh", nullptr, true, &fresh.error());
  }
  return fresh;
}

Result<TokenSet> Engine::refresh_set_unaudited(TokenSet current) {
  if (std::string elsewhere = bound_elsewhere(current); !elsewhere.empty()) {
    return std::unexpected(relogin_elsewhere(elsewhere));
  }
  if (current.refresh_token.empty()) {
    return relogin("the access token expired and there is no refresh token");
  }
  // Room for the new set is proved before the server rotates the refresh token: a save that
  // failed afterwards would cost the session.
  if (auto room = store_->check_capacity(profile_.name); !room) return std::unexpected(room.error());
  // RFC 9449 §5: the refresh of a DPoP-bound set is signed with its key.
  auto dpop_key = dpop_key_of(current);
  if (!dpop_key) return std::unexpected(dpop_key.error());
  oauth::OAuthClient client(profile_, http_);
  if (*dpop_key) client.use_dpop(**dpop_key, dpop_nonces_, [this] { return server_now(); });
  // Without a usable Date in the answer, the offset learned last (kept with the tokens) stands.
  http_.assume_offset(current.clock_offset_s ? current.clock_offset_s : profile_.clock_offset_s);
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
      if (auto saved = store_->save(profile_.name, current); !saved) return std::unexpected(saved.error());
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
        if (auto saved = store_->save(profile_.name, current); !saved) return std::unexpected(saved.error());
        return relogin("re-login required: the refresh token was rejected", "invalid_grant", reply->http_status);
      }
      return fail(ErrorCode::kProtocol, "refresh failed: " + oauth::describe_oauth_error(reply->error), reply->error.error,
                  reply->http_status);
    }
    case oauth::TokenReply::Kind::kTokens: break;
  }
  adopt_server_times(*reply);
  TokenSet fresh = std::move(reply->tokens);
  fresh.clock_offset_s = http_.offset();
  if (!fresh.id_token.empty()) {
    // OIDC Core §12.2: a refreshed ID token is validated like the first, and names the same user.
    auto valid = session::check_id_token(profile_, http_, fresh, server_now(), profile_.jwks_cache, profile_.jwks_cache_expires_at);
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
        (void)store_->save(profile_.name, current);
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
  // The new tokens are bound to the same key (RFC 9449 §5).
  fresh.dpop_key = current.dpop_key;
  // A refresh continues the session: its age still counts from the login.
  fresh.signed_in_at = signed_in_at(current);
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
                                   profile_.name + ") once the token store can be written"
                             : "; the stored tokens are kept as they were";
    return std::unexpected(error);
  }
  return fresh;
}

Result<std::unique_ptr<Engine>> Engine::open(const std::string& name, SessionOptions options) {
  if (!valid_profile_name(name)) {
    return std::unexpected(remedy_error(ErrorCode::kUsage, "invalid profile name \"" + name + "\" (use letters, digits, '.', '_' and '-')", Remedy::kFixSettings, {}, "profile"));
  }
  // A policy that cannot be honoured stops everything: a session without it would be one the
  // administrator did not allow.
  auto policy = load_machine_policy();
  if (!policy) return std::unexpected(policy.error());
  auto profiles = profile_store_for(options);
  if (!profiles) return std::unexpected(profiles.error());
  std::shared_ptr<Clock> clock = options.clock ? options.clock : std::make_shared<SystemClock>();
  auto loaded = profiles->load(name);
  if (!loaded) {
    // Never saved, or unreadable: an engine that says so, under the name it was opened with.
    Profile unsaved;
    unsaved.name = name;
    std::shared_ptr<HttpClient> http = http_for(options, unsaved.ca_file);
    auto engine = std::make_unique<Engine>(std::move(unsaved), std::unexpected(loaded.error()), std::move(http),
                                           std::move(clock), std::move(*profiles), std::move(options), false);
    engine->policy_ = std::move(*policy);
    return engine;
  }
  // A store that cannot be opened keeps its settings (a login can move it to a store that works,
  // and clean this one).
  auto store = open_token_store(loaded->store);
  std::shared_ptr<HttpClient> http = http_for(options, loaded->ca_file);
  auto engine = std::make_unique<Engine>(std::move(*loaded), std::move(store), std::move(http), std::move(clock),
                                         std::move(*profiles), std::move(options), true);
  engine->policy_ = std::move(*policy);
  return engine;
}

Result<Engine::SignedIn> Engine::sign_in(const LoginSettings& requested, const LoginObserver& observer) {
  LoginSettings settings = requested;
  settings.profile = profile_.name;
  // A deadline is the clock plus this: bounded so that it cannot overflow (a day, as the CLI and
  // the C ABI take it).
  if (settings.browser_timeout_s < 1 || settings.browser_timeout_s > 86400) {
    return fail(ErrorCode::kUsage, "the browser flow's timeout must be from 1 to 86400 seconds, not " +
                                       std::to_string(settings.browser_timeout_s));
  }
  // The profile signed in before, if any: its tokens are revoked and removed once the new ones are
  // saved in another store, so that switching stores never leaves a copy behind.
  const std::optional<Profile>& previous = saved_profile_;

  // The machine policy: an issuer, store or DPoP choice it refuses is refused before any request.
  if (auto allowed = audited_policy(check_login_settings(policy_, settings)); !allowed) return std::unexpected(allowed.error());
  if (policy_.stores && (settings.store.empty() || settings.store == "auto") && !(previous && settings.store.empty())) {
    // "auto" chooses among the keyrings the policy allows (never the file on its own).
    for (const std::string& allowed : *policy_.stores) {
      if (allowed == "file") continue;
      if (auto usable = resolve_store_name(allowed)) {
        settings.store = *usable;
        break;
      }
    }
  }
  // Checked before any request is sent.
  for (const std::string& url : settings.api_urls) {
    if (auto checked = http::parse_checked_url(url, "API base URL"); !checked) return std::unexpected(checked.error());
  }
  Profile profile;
  std::shared_ptr<HttpClient> http;
  if (!names_a_server(settings)) {
    // Sign in again with what the profile remembers.
    if (!previous) {
      if (unusable_ && unusable_->code != ErrorCode::kNotLoggedIn) return std::unexpected(*unusable_);
      return std::unexpected(remedy_error(ErrorCode::kUsage, "no saved profile \"" + settings.profile + "\" and no server to sign in to", Remedy::kAddSettings, settings.profile, "issuer|provider,client_id"));
    }
    profile = *previous;
    if (!settings.client_id.empty()) profile.client_id = settings.client_id;
    if (!settings.scope.empty()) profile.scope = settings.scope;
    if (!settings.store.empty()) {
      auto store_name = resolve_store_name(settings.store);
      if (!store_name) return std::unexpected(store_name.error());
      profile.store = *store_name;
    }
    http = http_for(options_, profile.ca_file);
  } else {
    // Without a store asked for, a saved profile keeps its store.
    if (settings.store.empty() && previous) settings.store = previous->store;
    http = http_for(options_, settings.ca_file);
    auto prepared = prepare_profile(settings, *http);
    if (!prepared) return std::unexpected(prepared.error());
    profile = std::move(*prepared);
  }
  // DPoP: as asked, else as the profile signed in before (on where the machine policy requires it).
  profile.dpop = settings.dpop ? *settings.dpop : (policy_.require_dpop || (previous && previous->dpop));
  // The flow: as asked, else as the profile signed in before (auto for a new one).
  if (settings.flow) {
    profile.flow = *settings.flow;
  } else if (previous) {
    profile.flow = previous->flow;
  }
  // API base URLs: those of a previous sign-in to the same issuer, then the new ones, once each.
  if (previous && previous->issuer == profile.issuer) profile.api_urls = previous->api_urls;
  for (const std::string& url : settings.api_urls) {
    if (std::find(profile.api_urls.begin(), profile.api_urls.end(), url) == profile.api_urls.end()) profile.api_urls.push_back(url);
  }
  // The machine policy's word on the prepared profile, before the device authorization request.
  if (auto allowed = audited_policy(check_login_profile(policy_, profile)); !allowed) return std::unexpected(allowed.error());
  auto store = open_token_store(profile.store);
  if (!store) return std::unexpected(store.error());
  // The profile must be savable before the user approves anything: a directory that cannot be
  // made private is found now, not after tokens were issued.
  if (auto directory = core::ensure_private_directory(profiles_.directory()); !directory) {
    return std::unexpected(directory.error());
  }
  if (observer.on_start) observer.on_start(profile, **store);

  // The new engine replaces this one only once everything has succeeded.
  auto next = std::make_unique<Engine>(std::move(profile), std::move(*store), std::move(http), clock_, profiles_, options_,
                                       false);
  next->previous_profile_ = previous;
  next->set_login_options(settings.local_browser, settings.browser_timeout_s);
  next->policy_ = policy_;
  auto info = next->login(observer);
  if (!info) return std::unexpected(info.error());
  // The engine's profile carries the JWKS that verified the ID token, and the clock offset.
  if (auto saved = profiles_.save(next->profile()); !saved) {
    Error error = saved.error();
    const Profile& now = next->profile();
    if (previous && previous->store == now.store && previous->endpoints.token == now.endpoints.token &&
        previous->client_id == now.client_id) {
      // The saved profile names the same store, server and client: the new tokens are usable
      // with it (only its JWKS cache and clock offset are stale), so they are kept.
      error.message += "; the new tokens are kept (the saved profile names the same server, client and store)";
      return std::unexpected(std::move(error));
    }
    // The saved profile names another server, client or store: the new tokens would not be used,
    // so they are revoked and deleted, as logout does, so that no live token is left that nothing
    // manages.
    auto dropped = next->logout();
    if (!dropped) {
      error.message += "; the new tokens could not be deleted either (" + dropped.error().message + ")";
    } else if (dropped->revoked) {
      error.message += "; the new tokens were revoked and deleted, sign in again once this is fixed";
    } else {
      error.message += "; the new tokens were deleted (not revoked: " + dropped->revocation_problem +
                       "), sign in again once this is fixed";
    }
    return std::unexpected(std::move(error));
  }
  if (previous && !previous->store.empty() && previous->store != next->profile().store) {
    if (auto old_store = open_token_store(previous->store)) {
      // Revoked with the previous profile's server, then deleted: the same as its logout.
      std::shared_ptr<HttpClient> old_http = http_for(options_, previous->ca_file);
      Engine old(*previous, std::move(*old_store), std::move(old_http), clock_, profiles_, options_, true);
      old.policy_ = policy_;
      auto dropped = old.logout();
      if (observer.on_previous_store) observer.on_previous_store(previous->store, dropped);
    } else if (observer.on_previous_store) {
      observer.on_previous_store(previous->store, std::unexpected(old_store.error()));
    }
  }
  next->saved_profile_ = next->profile_;
  next->previous_profile_.reset();
  return SignedIn{std::move(*info), std::move(next)};
}

Result<TokenInfo> Engine::login(const LoginObserver& observer) {
  auto info = login_unaudited(observer);
  audit("login", nullptr, false, info ? nullptr : &info.error());
  return info;
}

Result<TokenInfo> Engine::login_unaudited(const LoginObserver& observer) {
  // Room for the set is proved before the server is asked for anything: a store that turns out to
  // be full only after approval wastes the user's approval and leaves issued tokens unheld.
  if (auto room = store_->check_capacity(profile_.name); !room) return std::unexpected(room.error());
  // Discovery's offset (prepare_profile) stands until an answer of this login gives one.
  http_.assume_offset(profile_.clock_offset_s);
  oauth::OAuthClient client(profile_, http_);
  // A new key for every login (RFC 9449 §5: the tokens are bound to it at the token endpoint).
  std::optional<oauth::DpopKey> dpop_key;
  if (profile_.dpop) {
    // RFC 9449 §5.1: an algorithm the server lists; EdDSA when offered (smaller, faster), else ES256.
    auto algorithm = oauth::choose_dpop_algorithm(profile_.dpop_algs);
    if (!algorithm) return std::unexpected(algorithm.error());
    auto generated = oauth::DpopKey::generate(*algorithm);
    if (!generated) return std::unexpected(generated.error());
    dpop_key = std::move(*generated);
    client.use_dpop(*dpop_key, dpop_nonces_, [this] { return server_now(); });
  }
  std::string nonce;
  auto reply = obtain_tokens(client, dpop_key ? &*dpop_key : nullptr, observer, nonce);
  if (!reply) return std::unexpected(reply.error());
  adopt_server_times(*reply);
  std::optional<TokenSet> tokens = std::move(reply->tokens);
  // OIDC Core §3.1.3.7: an ID token that does not verify means nothing is stored. Its times are
  // the server's, so they are judged on the server's clock (the skew allowance on top of that).
  if (auto valid = session::check_id_token(profile_, http_, *tokens, server_now(), profile_.jwks_cache,
                                   profile_.jwks_cache_expires_at, nonce); !valid) {
    return std::unexpected(valid.error());
  }
  tokens->clock_offset_s = http_.offset();
  profile_.clock_offset_s = http_.offset();
  tokens->signed_in_at = now();
  bind(*tokens);
  // Issued tokens that cannot be stored are revoked (RFC 7009), so that none stays live unheld.
  auto abandon = [&](Error error) {
    error.message += "; " + describe_revocation(revoke(*tokens, dpop_key ? &*dpop_key : nullptr), "the new tokens") +
                     ", nothing was stored";
    return std::unexpected(std::move(error));
  };
  if (dpop_key) {
    auto serialized = dpop_key->serialize();
    if (!serialized) return abandon(serialized.error());
    tokens->dpop_key = std::move(*serialized);
  }
  auto held = lock();
  if (!held) return abandon(held.error());
  // The set this login replaces: revoked once the new one is saved, as logout would.
  std::optional<TokenSet> replaced;
  if (auto loaded = store_->load(profile_.name); loaded && *loaded) replaced = std::move(**loaded);
  if (auto saved = save_issued(*tokens); !saved) return abandon(saved.error());
  if (replaced) {
    // A token the new set shares with the old one (none should) is not revoked.
    if (replaced->refresh_token.equals(tokens->refresh_token)) replaced->refresh_token.wipe();
    if (replaced->access_token.equals(tokens->access_token)) replaced->access_token.wipe();
    LogoutOutcome outcome;
    if (previous_profile_ && !bound_to(*replaced, profile_.endpoints.token, profile_.client_id)) {
      // Issued by the server the profile named before this login: revoked there, or its grant
      // would stay live with no copy left here.
      std::shared_ptr<const oauth::DpopKey> replaced_key;
      if (auto found = dpop_key_of(*replaced); found) replaced_key = std::move(*found);
      outcome = replaced_key ? revoke_at(*previous_profile_, http_.inner(), *replaced,
                                         RevocationDpop{replaced_key.get(), &dpop_nonces_, [this] { return server_now(); }})
                             : revoke_at(*previous_profile_, http_.inner(), *replaced);
    } else {
      outcome = revoke(*replaced);
    }
    outcome.deleted = true;
    if (observer.on_replaced) observer.on_replaced(outcome);
  }
  // A new session: its idle time starts now.
  if (policy_.idle_hours) note_use(profile_.name);
  TokenInfo info = token_info(*tokens);
  if (dpop_key) info.jkt = dpop_key->thumbprint();
  return info;
}

Result<oauth::TokenReply> Engine::device_tokens(oauth::OAuthClient& client, const LoginObserver& observer) {
  auto authorization = client.request_device_code();
  if (!authorization) return std::unexpected(authorization.error());
  const SystemTime issued_at = clock_->now();
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
  if (!is_loopback_url(profile_.endpoints.device_authorization)) {
    for (const std::string* uri : {&authorization->verification_uri, &authorization->verification_uri_complete}) {
      if (is_loopback_url(*uri)) {
        return fail(ErrorCode::kServer, "the verification URI " + core::redact_url(*uri) +
                                            " is on this machine (loopback), but the authorization server is not; "
                                            "refusing to show it");
      }
    }
  }
  auto shown_host = oauth::check_verification_host(profile_, authorization->verification_uri,
                                                   authorization->verification_uri_complete);
  if (!shown_host) return std::unexpected(shown_host.error());
  if (observer.on_code) {
    observer.on_code(DeviceCodePrompt{authorization->user_code, authorization->verification_uri,
                                      authorization->verification_uri_complete, authorization->message,
                                      authorization->expires_in, authorization->interval, shown_host->host,
                                      shown_host->warning});
  }

  return oauth::wait_for_tokens(client, *authorization, issued_at, *clock_, observer.on_waiting);
}

bool Engine::local_browser() const {
  if (local_browser_) return *local_browser_;
  auto set = [](const char* name) {
    const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read only
    return value != nullptr && *value != '\0';
  };
  // A browser started here over SSH would open on the remote machine (or not at all), and its
  // redirect to this machine's loopback would never reach the listener from the user's own browser.
  if (set("SSH_CONNECTION") || set("SSH_TTY") || set("SSH_CLIENT")) return false;
  // A graphical session, or (on a text console) a browser the user named.
  return set("DISPLAY") || set("WAYLAND_DISPLAY") || set("BROWSER");
}

Result<oauth::TokenReply> Engine::obtain_tokens(oauth::OAuthClient& client, const oauth::DpopKey* dpop_key,
                                                const LoginObserver& observer, std::string& nonce) {
  switch (profile_.flow) {
    case LoginFlow::kDevice:
      return device_tokens(client, observer);
    case LoginFlow::kBrowser:
      return browser_tokens(client, dpop_key, observer, nonce);
    case LoginFlow::kAuto:
      break;
  }
  // Auto: the device flow unless the server has none; the browser flow when the device flow is
  // refused as turned off for this app (RFC 10027 and Entra's Conditional Access leave the
  // browser flow open) and there is an authorization endpoint to turn to.
  if (profile_.endpoints.device_authorization.empty()) return browser_tokens(client, dpop_key, observer, nonce);
  auto reply = device_tokens(client, observer);
  if (reply || reply.error().remedy != Remedy::kUseBrowserFlow || profile_.endpoints.authorization.empty() ||
      !local_browser()) {
    return reply;
  }
  if (observer.on_flow_change) observer.on_flow_change(reply.error());
  return browser_tokens(client, dpop_key, observer, nonce);
}

Result<oauth::TokenReply> Engine::browser_tokens(oauth::OAuthClient& client, const oauth::DpopKey* dpop_key,
                                                 const LoginObserver& observer, std::string& nonce) {
  if (profile_.endpoints.authorization.empty()) {
    return std::unexpected(remedy_error(ErrorCode::kConfig,
                                        "profile \"" + profile_.name + "\" has no authorization endpoint (needed by the browser flow)",
                                        Remedy::kAddSettings, profile_.name, "endpoints.authorization"));
  }
  // The page the user signs in on: the same https-or-loopback rule as for our own requests.
  auto endpoint = http::parse_checked_url(profile_.endpoints.authorization, "the authorization endpoint");
  if (!endpoint) return std::unexpected(endpoint.error());
  auto listener = http::LoopbackListener::open();
  if (!listener) return std::unexpected(listener.error());
  // RFC 7636 §4.1: a verifier of 43 characters from 32 random bytes; RFC 6749 §10.12 and OIDC Core
  // §3.1.2.1: state and nonce as unguessable.
  auto verifier = oauth::random_base64url(32);
  if (!verifier) return std::unexpected(verifier.error());
  auto state = oauth::random_base64url(32);
  if (!state) return std::unexpected(state.error());
  auto fresh_nonce = oauth::random_base64url(32);
  if (!fresh_nonce) return std::unexpected(fresh_nonce.error());
  nonce = std::string(fresh_nonce->reveal());
  // RFC 8252 §7.3: the loopback IP literal with the port the kernel gave.
  const std::string redirect_uri = listener->url("/callback");
  oauth::AuthorizationRequest request{redirect_uri, std::string(state->reveal()), nonce,
                                      oauth::pkce_s256_challenge(verifier->reveal()),
                                      dpop_key != nullptr ? dpop_key->thumbprint() : std::string()};
  if (request.code_challenge.empty()) return fail(ErrorCode::kInternal, "cannot compute the PKCE challenge");
  const std::string url = oauth::authorization_url(profile_, request);
  // Shown on a terminal and handed to a browser as it is: server text with control or bidi
  // characters in it is refused rather than altered.
  if (sanitize_text(url) != url) {
    return fail(ErrorCode::kConfig, "the authorization endpoint " + core::redact_url(profile_.endpoints.authorization) +
                                        " holds characters that cannot be shown");
  }
  const long long timeout_s = browser_timeout_s_ > 0 ? browser_timeout_s_ : 300;
  if (observer.on_browser) {
    std::string host = core::ascii_lower(endpoint->authority);
    observer.on_browser(BrowserPrompt{url, redirect_uri, std::move(host), timeout_s});
  }

  Secret code;
  std::optional<Error> refused;
  auto judge = [&](std::string_view method, std::string_view target) -> http::ListenerAnswer {
    oauth::CallbackVerdict verdict = oauth::judge_callback(method, target, "/callback", *state);
    switch (verdict.kind) {
      case oauth::CallbackVerdict::Kind::kRejected:
        return {400, http::listener_page("Not this sign-in's answer", verdict.reason + "."), false};
      case oauth::CallbackVerdict::Kind::kCode:
        code = std::move(verdict.code);
        return {200, http::listener_page("Signed in", "You can close this tab and return to the terminal."), true};
      case oauth::CallbackVerdict::Kind::kError:
        break;
    }
    // RFC 6749 §4.1.2.1: this request's error, with the same meaning (and exit code) as the
    // device flow's answers.
    const std::string description = oauth::describe_oauth_error(verdict.error);
    switch (oauth::classify_poll_error(verdict.error.error)) {
      case oauth::PollOutcome::Kind::kDenied:
        refused = Error(ErrorCode::kAccessDenied, "the login was denied (" + description + ")", verdict.error.error);
        break;
      case oauth::PollOutcome::Kind::kTransient:
        refused = Error(ErrorCode::kServer, "login failed: " + description, verdict.error.error);
        break;
      default:
        refused = Error(ErrorCode::kProtocol, "login failed: " + description, verdict.error.error);
        break;
    }
    return {200, http::listener_page("Sign-in failed", description + ". Return to the terminal."), true};
  };
  // The clock's sleep is where a caller's cancellation (Ctrl-C, dl_session_cancel) shows: a sleep
  // that ends at once unless interrupted asks it between the listener's waits.
  auto cancelled = [this] { return !clock_->sleep_until(clock_->now()); };
  auto served =
      listener->serve(judge, std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s), cancelled);
  if (!served) {
    Error error = served.error();
    if (error.code == ErrorCode::kCancelled) error.message = "login cancelled";
    if (error.code == ErrorCode::kExpiredToken) {
      error.message = "the browser sign-in was not completed within " + std::to_string(timeout_s) + " s";
    }
    return std::unexpected(std::move(error));
  }
  if (refused) return std::unexpected(std::move(*refused));
  auto reply = client.exchange_code(code, *verifier, redirect_uri, to_unix(clock_->now()));
  code.wipe();
  if (!reply) return reply;
  if (reply->kind == oauth::TokenReply::Kind::kTransient) {
    return fail(ErrorCode::kServer, "the token endpoint answered HTTP " + std::to_string(reply->http_status), "",
                reply->http_status);
  }
  if (reply->kind == oauth::TokenReply::Kind::kError) {
    return fail(ErrorCode::kProtocol, "login failed: " + oauth::describe_oauth_error(reply->error), reply->error.error,
                reply->http_status);
  }
  return reply;
}

Result<std::shared_ptr<const oauth::DpopKey>> Engine::dpop_key_of(const TokenSet& tokens) const {
  if (!is_dpop_type(tokens.token_type)) return std::shared_ptr<const oauth::DpopKey>();
  if (tokens.dpop_key.empty()) return relogin("the stored DPoP token has no key to sign its requests with");
  if (dpop_key_cache_ && dpop_key_cache_->serialized.equals(tokens.dpop_key)) return dpop_key_cache_->key;
  auto key = oauth::DpopKey::load(tokens.dpop_key);
  if (!key) return relogin("the DPoP key stored with the token cannot be read (" + key.error().message + ")");
  auto shared = std::make_shared<const oauth::DpopKey>(std::move(*key));
  dpop_key_cache_ = CachedDpopKey{tokens.dpop_key, shared};
  return shared;
}

TokenInfo Engine::info_of(const TokenSet& tokens) const {
  TokenInfo info = token_info(tokens);
  if (auto key = dpop_key_of(tokens); key && *key) info.jkt = (*key)->thumbprint();
  return info;
}

void Engine::audit(std::string event, const Secret* token, bool refreshed, const Error* error, std::string detail) const {
  store::AuditEvent record;
  record.event = std::move(event);
  record.profile = profile_.name;
  record.consumer = options_.audit_consumer.empty() ? "library" : options_.audit_consumer;
  record.detail = detail.empty() ? options_.audit_detail : std::move(detail);
  if (token != nullptr) record.token_id = store::audit_token_id(*token);
  record.refreshed = refreshed;
  if (error != nullptr) {
    record.outcome = error_code_name(error->code);
    record.reason = sanitize_text(error->message);
  }
  store::audit_record(record);
}

Result<void> Engine::audited_policy(Result<void> allowed) const {
  if (!allowed) audit("refusal", nullptr, false, &allowed.error(), "machine policy");
  return allowed;
}

Result<AccessToken> Engine::access_token(long long min_ttl) {
  bool refreshed = false;
  auto tokens = valid_tokens(min_ttl, &refreshed);
  if (!tokens) {
    if (!refused_by_policy_) audit("handout", nullptr, refreshed, &tokens.error());
    return std::unexpected(tokens.error());
  }
  audit("handout", &tokens->access_token, refreshed, nullptr);
  return handed_out(*tokens);
}

std::optional<long long> Engine::last_use_if_limited() const {
  if (!policy_.idle_hours) return std::nullopt;
  return last_use(profile_.name);
}

Result<void> Engine::end_if_over_limits(const TokenSet& tokens) {
  if (!policy_.max_session_hours && !policy_.idle_hours) return {};
  const std::string ended = session_ended(policy_, session_limits(policy_, tokens, last_use_if_limited()), now());
  if (ended.empty()) return {};
  // Ended whatever a refresh could do: revoked and deleted, as logout does.
  ended_by_policy_ = ended;
  auto gone = logout();
  ended_by_policy_.clear();
  if (!gone) return std::unexpected(gone.error());
  return relogin(ended + (gone->revoked ? "; its tokens were revoked and deleted"
                                        : "; its tokens were deleted (not revoked: " + gone->revocation_problem + ")"));
}

Result<TokenSet> Engine::valid_tokens(long long min_ttl, bool* refreshed) {
  refused_by_policy_ = false;
  auto tokens = [&]() -> Result<TokenSet> {
    if (unusable_) return std::unexpected(*unusable_);
    if (auto allowed = audited_policy(check_hand_out(policy_, profile_)); !allowed) {
      refused_by_policy_ = true;
      return std::unexpected(allowed.error());
    }
    auto loaded = load_required();
    if (!loaded) return loaded;
    if (auto within = end_if_over_limits(*loaded); !within) return std::unexpected(within.error());
    return loaded;
  }();
  if (!tokens) return std::unexpected(tokens.error());
  // The idle limit counts from the last hand-out.
  if (policy_.idle_hours) note_use(profile_.name);
  // An access token issued to another server or client is not handed out for this profile either.
  if (std::string elsewhere = bound_elsewhere(*tokens); !elsewhere.empty()) {
    return std::unexpected(relogin_elsewhere(elsewhere));
  }
  if (tokens->fresh_at(now(), min_ttl)) return std::move(*tokens);
  const long long seen_obtained_at = tokens->obtained_at;
  auto held = lock();
  if (!held) return std::unexpected(held.error());
  // Another process may have refreshed while we waited for the lock. Its token is used even when
  // the server's lifetime is shorter than min_ttl, so that racing processes refresh only once.
  tokens = load_required();
  if (!tokens) return std::unexpected(tokens.error());
  if (std::string elsewhere = bound_elsewhere(*tokens); !elsewhere.empty()) {
    return std::unexpected(relogin_elsewhere(elsewhere));
  }
  if (tokens->fresh_at(now(), min_ttl)) return std::move(*tokens);
  if (tokens->obtained_at > seen_obtained_at && tokens->fresh_at(now(), 0)) return std::move(*tokens);
  auto fresh = refresh_set(std::move(*tokens));
  if (refreshed != nullptr) *refreshed = true;
  if (!fresh) return std::unexpected(fresh.error());
  if (!fresh->fresh_at(now(), min_ttl) && fresh->expires_at && *fresh->expires_at <= now()) {
    return fail(ErrorCode::kServer, "the server issued an access token that is already expired");
  }
  return std::move(*fresh);
}

Result<void> Engine::check_token_destination(std::string_view url) const {
  if (auto allowed = check_profile_destination(url); !allowed) return allowed;
  // The machine policy's api_origins narrow it further, for every caller (fetch, the credentials
  // for a caller's own HTTP client, the agent serving a remote `api`).
  return audited_policy(check_api_origin(policy_, url));
}

Result<void> Engine::check_profile_destination(std::string_view url) const {
  // The credential-host rule: the token goes only to origins the profile names. An origin is
  // compared whole (RFC 6454 §5): another port or scheme on the same host is another server.
  // (The https-except-loopback rule is the HTTP client's: the API base URLs passed it at login.)
  const auto origin = http::url_origin(url);
  if (origin) {
    for (const std::string& base : profile_.api_urls) {
      if (http::url_origin(base) == origin) return {};
    }
    if (!profile_.endpoints.userinfo.empty() && http::url_origin(profile_.endpoints.userinfo) == origin) {
      return {};
    }
  }
  // A URL that does not parse (or carries a user name) is shown without its userinfo and query.
  std::string shown;
  if (origin) {
    shown = sanitize_text(*origin);
  } else {
    const std::string redacted = core::redact_userinfo(url);
    shown = sanitize_text(std::string_view(redacted).substr(0, redacted.find_first_of("?#")));
  }
  Error refused = remedy_error(ErrorCode::kUsage,
                               "refusing to send the token of profile \"" + profile_.name + "\" to " + shown +
                                   ": not one of its API base URLs or its userinfo endpoint",
                               Remedy::kAddSettings, profile_.name, "api_urls");
  audit("refusal", nullptr, false, &refused, shown);
  return std::unexpected(std::move(refused));
}

Result<HttpResponse> Engine::fetch(HttpRequest request, long long min_ttl) {
  // A profile that is missing or unreadable says so, rather than refusing every destination.
  if (unusable_) return std::unexpected(*unusable_);
  if (auto shape = check_request_shape(request); !shape) return std::unexpected(shape.error());
  const std::string origin = http::url_origin(request.url).value_or(std::string());
  if (auto allowed = check_token_destination(request.url); !allowed) return std::unexpected(allowed.error());
  auto send_with = [&](const TokenSet& tokens) -> Result<HttpResponse> {
    // A DPoP token goes only with a proof of its key (RFC 9449 §7): without the key, no request.
    auto dpop_key = dpop_key_of(tokens);
    if (!dpop_key) return std::unexpected(dpop_key.error());
    for (int attempt = 0;; ++attempt) {
      HttpRequest authorized = request;
      // RFC 6750 §2.1, with the scheme of the token's type (authorization_scheme: "Bearer" for
      // any case of bearer, as servers that return "bearer" accept "Bearer" too); RFC 9449 §7.1:
      // "DPoP" for a DPoP token. Headers are plain strings, wiped below.
      auto credentials = credentials_for(tokens, dpop_key->get(), request.method, request.url);
      if (!credentials) return std::unexpected(credentials.error());
      authorized.headers.emplace_back("Authorization", header_value(credentials->authorization.reveal()));
      if (!credentials->dpop_proof.empty()) {
        authorized.headers.emplace_back("DPoP", header_value(credentials->dpop_proof.reveal()));
      }
      // An API is another server with its own clock: not observed.
      auto response = http_.inner().send(authorized);
      for (auto& [name, value] : authorized.headers) wipe_string(value);
      if (!response || !*dpop_key) return response;
      // RFC 9449 §9: a resource server's nonce, from any answer; a malformed one is ignored here
      // (a retry that needs it reports it).
      (void)dpop_nonces_.update(request.url, *response);
      if (attempt > 0) return response;
      // A 401 with WWW-Authenticate: DPoP error="use_dpop_nonce": once more with its nonce.
      auto retry = oauth::dpop_nonce_to_retry_with(*response);
      if (!retry) return std::unexpected(retry.error());
      if (!*retry) return response;
      if (auto remembered = dpop_nonces_.remember(request.url, **retry); !remembered) {
        return std::unexpected(remembered.error());
      }
    }
  };
  // The API request's origin names the consumer's detail in the audit trail, unless the caller
  // named one.
  const std::string audited_origin = options_.audit_detail.empty() ? sanitize_text(origin) : std::string();
  bool was_refreshed = false;
  auto tokens = valid_tokens(min_ttl, &was_refreshed);
  if (!tokens) {
    if (!refused_by_policy_) audit("handout", nullptr, was_refreshed, &tokens.error(), audited_origin);
    return std::unexpected(tokens.error());
  }
  audit("handout", &tokens->access_token, was_refreshed, nullptr, audited_origin);
  auto response = send_with(*tokens);
  if (!response || response->status != 401) return response;
  // The token was revoked or expired early: one refresh, one retry.
  auto refreshed = refresh();
  if (!refreshed) return std::unexpected(refreshed.error());
  auto again = valid_tokens(0);
  if (!again) return std::unexpected(again.error());
  audit("handout", &again->access_token, true, nullptr, audited_origin);
  return send_with(*again);
}

Result<RequestCredentials> Engine::credentials_for(const TokenSet& tokens, const oauth::DpopKey* dpop_key,
                                                   std::string_view method, std::string_view url) const {
  RequestCredentials credentials;
  credentials.token_type = tokens.token_type;
  if (dpop_key == nullptr) {
    credentials.authorization = handed_out(tokens).authorization();
    return credentials;
  }
  credentials.authorization = Secret("DPoP ");
  credentials.authorization.append(tokens.access_token.reveal());
  const std::optional<std::string> nonce = dpop_nonces_.nonce_for(url);
  // iat on the clock of the authorization server the token came from: the best word on the time
  // there is (an API's own Date is not observed).
  const long long issued_at = now() + tokens.clock_offset_s.value_or(profile_.clock_offset_s.value_or(0));
  auto proof = oauth::make_dpop_proof(*dpop_key, oauth::DpopProofRequest{method, url, issued_at, &tokens.access_token,
                                                                          nonce ? std::string_view(*nonce)
                                                                                : std::string_view()});
  if (!proof) return std::unexpected(proof.error());
  credentials.dpop_proof = std::move(*proof);
  return credentials;
}

Result<RequestCredentials> Engine::request_credentials(std::string_view method, std::string_view url,
                                                       long long min_ttl) {
  if (unusable_) return std::unexpected(*unusable_);
  // The caller's mistakes first, as fetch() finds them, before any token is read.
  HttpRequest shape;
  shape.method = std::string(method);
  shape.url = std::string(url);
  if (auto checked = check_request_shape(shape); !checked) return std::unexpected(checked.error());
  if (auto allowed = check_token_destination(url); !allowed) return std::unexpected(allowed.error());
  auto tokens = valid_tokens(min_ttl);
  if (!tokens) return std::unexpected(tokens.error());
  // A DPoP token goes only with a proof of its key (RFC 9449 §7): without the key, no credentials.
  auto dpop_key = dpop_key_of(*tokens);
  if (!dpop_key) return std::unexpected(dpop_key.error());
  return credentials_for(*tokens, dpop_key->get(), method, url);
}

Result<bool> Engine::learn_from_response(std::string_view url, const HttpResponse& response) {
  // RFC 9449 §8.2, §9: a nonce may come with any answer; a malformed one is ignored here, as
  // fetch() does (a retry that needs it reports it).
  (void)dpop_nonces_.update(url, response);
  auto retry = oauth::dpop_nonce_to_retry_with(response);
  if (!retry) return std::unexpected(retry.error());
  if (!*retry) return false;
  if (auto remembered = dpop_nonces_.remember(url, **retry); !remembered) return std::unexpected(remembered.error());
  return true;
}

Result<TokenInfo> Engine::refresh() {
  if (unusable_) return std::unexpected(*unusable_);
  if (auto allowed = audited_policy(check_hand_out(policy_, profile_)); !allowed) return std::unexpected(allowed.error());
  {
    auto tokens = load_required();
    if (!tokens) return std::unexpected(tokens.error());
    if (auto within = end_if_over_limits(*tokens); !within) return std::unexpected(within.error());
  }
  auto held = lock();
  if (!held) return std::unexpected(held.error());
  auto tokens = load_required();
  if (!tokens) return std::unexpected(tokens.error());
  auto fresh = refresh_set(std::move(*tokens));
  if (!fresh) return std::unexpected(fresh.error());
  return info_of(*fresh);
}

Result<LogoutOutcome> Engine::logout() { return logout_of(*store_); }

Result<LogoutOutcome> Engine::logout_from(TokenStore& other) {
  if (unusable_) return std::unexpected(*unusable_);
  return logout_of(other);
}

Result<LogoutOutcome> Engine::logout_of(TokenStore& from) {
  if (unusable_) return std::unexpected(*unusable_);
  LogoutOutcome outcome;
  auto held = lock();
  if (!held) return std::unexpected(held.error());
  auto loaded = from.load(profile_.name);
  if (!loaded) {
    // Unreadable (unsafe permissions, corrupt): nothing to revoke with, but delete it all the same.
    outcome.revocation_problem = loaded.error().message;
    auto removed = from.remove(profile_.name);
    if (!removed) return std::unexpected(removed.error());
    outcome.deleted = *removed;
    return outcome;
  }
  if (!*loaded) {
    outcome.revocation_problem = "nothing was stored";
    return outcome;
  }
  outcome = revoke(**loaded);
  forget_use(profile_.name);
  // Local deletion happens whatever revocation did.
  auto removed = from.remove(profile_.name);
  if (!removed) {
    audit("logout", &(*loaded)->access_token, false, &removed.error());
    return std::unexpected(removed.error());
  }
  outcome.deleted = *removed;
  {
    store::AuditEvent record;
    record.event = "logout";
    record.profile = profile_.name;
    record.consumer = options_.audit_consumer.empty() ? "library" : options_.audit_consumer;
    record.detail = options_.audit_detail.empty() && &from != store_.get() ? "store " + from.name() : options_.audit_detail;
    record.token_id = store::audit_token_id((*loaded)->access_token);
    record.outcome = outcome.revoked ? "revoked" : "not_revoked";
    record.reason = sanitize_text(outcome.revocation_problem);
    if (!ended_by_policy_.empty()) {
      // The machine policy's age or idle limit ended the session: one record saying so, with
      // whether the revocation worked (the outcome).
      record.event = "session_ended";
      record.detail = "machine policy";
      record.reason = sanitize_text(ended_by_policy_) + (outcome.revocation_problem.empty() ? "" : "; not revoked: " + record.reason);
    }
    store::audit_record(record);
  }
  return outcome;
}

Result<SessionStatus> Engine::status() {
  if (unusable_) return std::unexpected(*unusable_);
  auto loaded = store_->load(profile_.name);
  if (!loaded) return std::unexpected(loaded.error());
  SessionStatus status;
  status.profile = profile_.name;
  status.issuer = profile_.issuer;
  status.client_id = profile_.client_id;
  status.store = store_->name();
  status.store_location = store_->location(profile_.name);
  if (*loaded) {
    if (!bound_to(**loaded, profile_.endpoints.token, profile_.client_id)) {
      status.relogin_required = true;
      status.relogin_reason = "the stored tokens were issued by " + core::redact_url((**loaded).token_endpoint) + " to client " +
                              (**loaded).client_id + ", not to this profile's server and client";
    } else if (!(**loaded).refresh_refused.empty()) {
      // The server refused the refresh token: the next token() that needs a refresh fails with
      // kReloginRequired, and status says so (it went on saying "logged in").
      status.relogin_required = true;
      status.relogin_reason = (**loaded).refresh_refused;
    } else if (auto key = dpop_key_of(**loaded); !key) {
      // A DPoP token without its key cannot be used at all: it is not "logged in".
      status.relogin_required = true;
      status.relogin_reason = key.error().message;
    } else {
      status.tokens = info_of(**loaded);
    }
    status.clock_offset_s = (**loaded).clock_offset_s;
    const SessionLimits limits = session_limits(policy_, **loaded, last_use_if_limited());
    status.session_ends_at = limits.ends_at;
    status.idle_ends_at = limits.idle_ends_at;
    status.idle_limit_s = limits.idle_limit_s;
    if (std::string ended = session_ended(policy_, limits, now()); !ended.empty() && !status.relogin_required) {
      // Ended by the policy: the next hand-out revokes and deletes the tokens.
      status.tokens.reset();
      status.relogin_required = true;
      status.relogin_reason = ended;
    }
  }
  // The newest word from the server's clock: the last refresh's, else the login's.
  if (!status.clock_offset_s) status.clock_offset_s = profile_.clock_offset_s;
  // Best effort: never fails status.
  if (auto usage = store_->usage(profile_.name)) status.usage = *usage;
  return status;
}

Result<bool> Engine::forget() {
  auto removed = profiles_.remove(profile_.name);
  if (!removed) return removed;
  // A default that named it falls back to "default" (DEVICELOGIN_PROFILE is the caller's to unset).
  if (std::getenv("DEVICELOGIN_PROFILE") == nullptr) {  // NOLINT(concurrency-mt-unsafe): read only
    if (auto chosen = profiles_.default_name(); chosen && *chosen == profile_.name) {
      if (auto reset = profiles_.set_default("default"); !reset) return std::unexpected(reset.error());
    }
  }
  return removed;
}

}  // namespace devicelogin::session
