// The facade's workflow: open a named session, and sign in with settings (prepare the profile,
// sign in, save the profile with its JWKS cache, roll back when that fails, clean the previous
// store). What every adopter, and the devicelogin CLI, would otherwise write again.
#include <algorithm>

#include "devicelogin/session.hpp"
#include "http/url_policy.hpp"
#include "session/session_impl.hpp"
#include "core/fs.hpp"
#include "store/absent_store.hpp"

namespace devicelogin {
namespace {

// The HTTP client a session uses: the caller's, or a libcurl one with the profile's CA file.
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

// Settings that name a server: with any of them, a login prepares the profile afresh.
bool names_a_server(const LoginSettings& settings) {
  return !settings.issuer.empty() || !settings.provider.empty() || !settings.tenant.empty() ||
         !settings.endpoints.device_authorization.empty() || !settings.endpoints.token.empty();
}

}  // namespace

Result<Session> Session::open(const std::string& name, SessionOptions options) {
  if (!valid_profile_name(name)) {
    return std::unexpected(remedy_error(ErrorCode::kUsage, "invalid profile name \"" + name + "\" (use letters, digits, '.', '_' and '-')", Remedy::kFixSettings, {}, "profile"));
  }
  auto profiles = profile_store_for(options);
  if (!profiles) return std::unexpected(profiles.error());
  // The engine: the profile with its store (or `missing` saying why there is none), the options'
  // client and clock or the defaults, owned by the engine.
  auto make_opened_impl = [&options](Profile profile, std::unique_ptr<TokenStore> store, std::optional<Error> missing,
                                     ProfileStore profile_store, bool saved = false) {
    std::shared_ptr<HttpClient> http = http_for(options, profile.ca_file);
    std::shared_ptr<Clock> clock = options.clock ? options.clock : std::make_shared<SystemClock>();
    auto impl = std::make_unique<Impl>(std::move(profile), std::move(store), *http, *clock);
    impl->http_owner = std::move(http);
    impl->clock_owner = std::move(clock);
    impl->profiles = std::move(profile_store);
    impl->options = options;
    impl->missing = std::move(missing);
    if (saved) impl->saved_profile = impl->profile;
    return impl;
  };
  auto loaded = profiles->load(name);
  if (loaded) {
    auto store = open_token_store(loaded->store);
    if (store) {
      return Session(make_opened_impl(std::move(*loaded), std::move(*store), std::nullopt, std::move(*profiles), true));
    }
    // Its settings are kept (a login can move it to a store that works, and clean this one).
    auto placeholder = std::make_unique<store::AbsentTokenStore>(loaded->store, store.error(), "(cannot be opened)");
    return Session(make_opened_impl(std::move(*loaded), std::move(placeholder), store.error(), std::move(*profiles), true));
  }
  Profile unsaved;
  unsaved.name = name;
  // Its store is a placeholder that answers every call with the reason there is no profile.
  auto placeholder = std::make_unique<store::AbsentTokenStore>("none", loaded.error(), "(no saved profile)");
  return Session(make_opened_impl(std::move(unsaved), std::move(placeholder), loaded.error(), std::move(*profiles)));
}

Result<std::vector<std::string>> Session::profiles(const SessionOptions& options) {
  auto profiles = profile_store_for(options);
  if (!profiles) return std::unexpected(profiles.error());
  return profiles->list();
}

Result<std::string> Session::default_profile(const SessionOptions& options) {
  auto profiles = profile_store_for(options);
  if (!profiles) return std::unexpected(profiles.error());
  return profiles->default_name();
}

Result<void> Session::set_default_profile(const std::string& name, const SessionOptions& options) {
  auto profiles = profile_store_for(options);
  if (!profiles) return std::unexpected(profiles.error());
  return profiles->set_default(name);
}

Result<TokenInfo> Session::login(const LoginSettings& requested, const LoginObserver& observer) {
  Impl& self = *impl_;
  if (!self.profiles) {
    return fail(ErrorCode::kUsage, "signing in with settings needs a session made by Session::open");
  }
  LoginSettings settings = requested;
  settings.profile = self.profile.name;
  // The profile signed in before, if any: its tokens are revoked and removed once the new ones are
  // saved in another store, so that switching stores never leaves a copy behind.
  const std::optional<Profile>& previous = self.saved_profile;

  // Checked before any request is sent.
  for (const std::string& url : settings.api_urls) {
    if (auto checked = http::parse_checked_url(url, "API base URL"); !checked) return std::unexpected(checked.error());
  }
  Profile profile;
  std::shared_ptr<HttpClient> http;
  if (!names_a_server(settings)) {
    // Sign in again with what the profile remembers.
    if (!previous) {
      if (self.missing && self.missing->code != ErrorCode::kNotLoggedIn) return std::unexpected(*self.missing);
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
    http = http_for(self.options, profile.ca_file);
  } else {
    // Without a store asked for, a saved profile keeps its store.
    if (settings.store.empty() && previous) settings.store = previous->store;
    http = http_for(self.options, settings.ca_file);
    auto prepared = prepare_profile(settings, *http);
    if (!prepared) return std::unexpected(prepared.error());
    profile = std::move(*prepared);
  }
  // API base URLs: those of a previous sign-in to the same issuer, then the new ones, once each.
  if (previous && previous->issuer == profile.issuer) profile.api_urls = previous->api_urls;
  for (const std::string& url : settings.api_urls) {
    if (std::find(profile.api_urls.begin(), profile.api_urls.end(), url) == profile.api_urls.end()) profile.api_urls.push_back(url);
  }
  auto store = open_token_store(profile.store);
  if (!store) return std::unexpected(store.error());
  // The profile must be savable before the user approves anything: a directory that cannot be
  // made private is found now, not after tokens were issued.
  if (auto directory = core::ensure_private_directory(self.profiles->directory()); !directory) {
    return std::unexpected(directory.error());
  }
  if (observer.on_start) observer.on_start(profile, **store);

  // The new engine replaces this one only once everything has succeeded.
  auto next_impl = std::make_unique<Impl>(std::move(profile), std::move(*store), *http, *self.clock_owner);
  next_impl->http_owner = std::move(http);
  next_impl->clock_owner = self.clock_owner;
  next_impl->profiles = self.profiles;
  next_impl->options = self.options;
  next_impl->previous_profile = previous;
  Session next(std::move(next_impl));
  auto info = next.login_with_profile(observer);
  if (!info) return std::unexpected(info.error());
  // The engine's profile carries the JWKS that verified the ID token, and the clock offset.
  if (auto saved = self.profiles->save(next.profile()); !saved) {
    Error error = saved.error();
    const Profile& now = next.profile();
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
    auto dropped = next.logout();
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
  if (previous && !previous->store.empty() && previous->store != next.profile().store) {
    if (auto old_store = open_token_store(previous->store)) {
      // Revoked with the previous profile's server, then deleted: the same as its logout.
      std::shared_ptr<HttpClient> old_http = http_for(self.options, previous->ca_file);
      Session old(*previous, std::move(*old_store), *old_http, *self.clock_owner);
      auto dropped = old.logout();
      if (observer.on_previous_store) observer.on_previous_store(previous->store, dropped);
    } else if (observer.on_previous_store) {
      observer.on_previous_store(previous->store, std::unexpected(old_store.error()));
    }
  }
  next.impl_->saved_profile = next.impl_->profile;
  next.impl_->previous_profile.reset();
  impl_ = std::move(next.impl_);
  return info;
}

}  // namespace devicelogin
