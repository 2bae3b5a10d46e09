#include "devicelogin/session.hpp"

#include "session/session_impl.hpp"

#include <algorithm>
#include <cstdlib>
#include <string_view>

#include "core/encoding.hpp"
#include "core/redaction.hpp"
#include "devicelogin/sanitize.hpp"
#include "http/server_time.hpp"
#include "http/url_policy.hpp"
#include "oauth/device_flow.hpp"
#include "session/id_token.hpp"
#include "oauth/oauth_client.hpp"
#include "oauth/verification.hpp"

namespace devicelogin {

Session::Session(Profile profile, std::unique_ptr<TokenStore> store, HttpClient& http, Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(profile), std::move(store), http, clock)) {}
Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::~Session() = default;
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;

const Profile& Session::profile() const { return impl_->profile; }
TokenStore& Session::store() { return *impl_->store; }

Result<TokenInfo> Session::login(const LoginObserver& observer) {
  // An opened session signs in again with its saved profile, and saves it afterwards.
  if (impl_->profiles) return login(LoginSettings{}, observer);
  return login_with_profile(observer);
}

Result<TokenInfo> Session::login_with_profile(const LoginObserver& observer) {
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
        return fail(ErrorCode::kServer, "the verification URI " + core::redact_url(*uri) +
                                            " is on this machine (loopback), but the authorization server is not; "
                                            "refusing to show it");
      }
    }
  }
  auto shown_host = oauth::check_verification_host(self.profile, authorization->verification_uri,
                                                   authorization->verification_uri_complete);
  if (!shown_host) return std::unexpected(shown_host.error());
  if (observer.on_code) {
    observer.on_code(DeviceCodePrompt{authorization->user_code, authorization->verification_uri,
                                      authorization->verification_uri_complete, authorization->message,
                                      authorization->expires_in, authorization->interval, shown_host->host,
                                      shown_host->warning});
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
  if (auto valid = session::check_id_token(self.profile, self.http, *tokens, self.server_now(), self.profile.jwks_cache,
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
    LogoutOutcome outcome;
    if (self.previous_profile && !bound_to(*replaced, self.profile.endpoints.token, self.profile.client_id)) {
      // Issued by the server the profile named before this login: revoked there, or its grant
      // would stay live with no copy left here.
      Impl previous(*self.previous_profile, nullptr, self.http.inner(), self.clock);
      outcome = previous.revoke(*replaced);
    } else {
      outcome = self.revoke(*replaced);
    }
    outcome.deleted = true;
    if (observer.on_replaced) observer.on_replaced(outcome);
  }
  return token_info(*tokens);
}

namespace {

// What access_token() hands out of a stored set.
AccessToken handed_out(const TokenSet& tokens) { return AccessToken{tokens.access_token, tokens.token_type, tokens.expires_at}; }

}  // namespace

Result<AccessToken> Session::access_token(long long min_ttl) {
  Impl& self = *impl_;
  if (auto problem = self.unusable()) return *problem;
  auto tokens = self.load_required();
  if (!tokens) return std::unexpected(tokens.error());
  // An access token issued to another server or client is not handed out for this profile either.
  if (std::string elsewhere = self.bound_elsewhere(*tokens); !elsewhere.empty()) {
    return std::unexpected(self.relogin_elsewhere(elsewhere));
  }
  if (tokens->fresh_at(self.now(), min_ttl)) return handed_out(*tokens);
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
  if (tokens->fresh_at(self.now(), min_ttl)) return handed_out(*tokens);
  if (tokens->obtained_at > seen_obtained_at && tokens->fresh_at(self.now(), 0)) return handed_out(*tokens);
  auto fresh = self.refresh(std::move(*tokens));
  if (!fresh) return std::unexpected(fresh.error());
  if (!fresh->fresh_at(self.now(), min_ttl) && fresh->expires_at && *fresh->expires_at <= self.now()) {
    return fail(ErrorCode::kServer, "the server issued an access token that is already expired");
  }
  return handed_out(*fresh);
}

Result<void> Session::check_token_destination(std::string_view url) const {
  const Impl& self = *impl_;
  // The credential-host rule: the token goes only to origins the profile names. An origin is
  // compared whole (RFC 6454 §5): another port or scheme on the same host is another server.
  // (The https-except-loopback rule is the HTTP client's: the API base URLs passed it at login.)
  const auto origin = http::url_origin(url);
  if (origin) {
    for (const std::string& base : self.profile.api_urls) {
      if (http::url_origin(base) == origin) return {};
    }
    if (!self.profile.endpoints.userinfo.empty() && http::url_origin(self.profile.endpoints.userinfo) == origin) {
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
  return std::unexpected(remedy_error(ErrorCode::kUsage,
                                      "refusing to send the token of profile \"" + self.profile.name + "\" to " + shown +
                                          ": not one of its API base URLs or its userinfo endpoint",
                                      Remedy::kAddSettings, self.profile.name, "api_urls"));
}

namespace {

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

}  // namespace

Result<HttpResponse> Session::fetch(HttpRequest request, long long min_ttl) {
  Impl& self = *impl_;
  // A profile that is missing or unreadable says so, rather than refusing every destination.
  if (auto problem = self.unusable()) return *problem;
  if (auto shape = check_request_shape(request); !shape) return std::unexpected(shape.error());
  if (auto allowed = check_token_destination(request.url); !allowed) return std::unexpected(allowed.error());
  auto send_with = [&](const AccessToken& token) {
    HttpRequest authorized = request;
    // RFC 6750 §2.1, with the scheme of the token's type (authorization_scheme: "Bearer" for any
    // case of bearer, as servers that return "bearer" accept "Bearer" too).
    // Headers are plain strings: sized once so that no reallocation leaves a copy, wiped below.
    const Secret header = token.authorization();
    std::string authorization;
    authorization.reserve(header.size());
    authorization.append(header.reveal());
    authorized.headers.emplace_back("Authorization", std::move(authorization));
    // An API is another server with its own clock: not observed.
    auto response = self.http.inner().send(authorized);
    for (auto& [name, value] : authorized.headers) wipe_string(value);
    return response;
  };
  auto token = access_token(min_ttl);
  if (!token) return std::unexpected(token.error());
  auto response = send_with(*token);
  if (!response || response->status != 401) return response;
  // The token was revoked or expired early: one refresh, one retry.
  auto refreshed = refresh();
  if (!refreshed) return std::unexpected(refreshed.error());
  auto again = access_token(0);
  if (!again) return std::unexpected(again.error());
  return send_with(*again);
}

Result<TokenInfo> Session::refresh() {
  Impl& self = *impl_;
  if (auto problem = self.unusable()) return *problem;
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
  if (auto problem = self.unusable()) return *problem;
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

Result<HttpResponse> Session::get(const std::string& url, HttpHeaders headers, long long min_ttl) {
  HttpRequest request;
  request.method = "GET";
  request.url = url;
  request.headers = std::move(headers);
  return fetch(std::move(request), min_ttl);
}

Result<SessionStatus> Session::status() {
  Impl& self = *impl_;
  if (auto problem = self.unusable()) return *problem;
  auto loaded = self.store->load(self.profile.name);
  if (!loaded) return std::unexpected(loaded.error());
  SessionStatus status;
  status.profile = self.profile.name;
  status.issuer = self.profile.issuer;
  status.client_id = self.profile.client_id;
  status.store = self.store->name();
  status.store_location = self.store->location(self.profile.name);
  if (*loaded) {
    if (!bound_to(**loaded, self.profile.endpoints.token, self.profile.client_id)) {
      status.relogin_required = true;
      status.relogin_reason = "the stored tokens were issued by " + core::redact_url((**loaded).token_endpoint) + " to client " +
                              (**loaded).client_id + ", not to this profile's server and client";
    } else if (!(**loaded).refresh_refused.empty()) {
      // The server refused the refresh token: the next token() that needs a refresh fails with
      // kReloginRequired, and status says so (it went on saying "logged in").
      status.relogin_required = true;
      status.relogin_reason = (**loaded).refresh_refused;
    } else {
      status.tokens = token_info(**loaded);
    }
    status.clock_offset_s = (**loaded).clock_offset_s;
  }
  // The newest word from the server's clock: the last refresh's, else the login's.
  if (!status.clock_offset_s) status.clock_offset_s = self.profile.clock_offset_s;
  // Best effort: never fails status.
  if (auto usage = self.store->usage(self.profile.name)) status.usage = *usage;
  return status;
}

Result<bool> Session::forget() {
  Impl& self = *impl_;
  if (!self.profiles) return fail(ErrorCode::kUsage, "forget() needs a session made by Session::open");
  auto removed = self.profiles->remove(self.profile.name);
  if (!removed) return removed;
  // A default that named it falls back to "default" (DEVICELOGIN_PROFILE is the caller's to unset).
  if (std::getenv("DEVICELOGIN_PROFILE") == nullptr) {  // NOLINT(concurrency-mt-unsafe): read only
    if (auto chosen = self.profiles->default_name(); chosen && *chosen == self.profile.name) {
      if (auto reset = self.profiles->set_default("default"); !reset) return std::unexpected(reset.error());
    }
  }
  return removed;
}

}  // namespace devicelogin
