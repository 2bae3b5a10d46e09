// The facade: every call is the session engine's (session/engine.cpp), which holds the session's
// profile, store, HTTP client and clock.
#include "devicelogin/session.hpp"

#include <utility>

#include "session/engine.hpp"

namespace devicelogin {

Session::Session(std::unique_ptr<session::Engine> engine) : engine_(std::move(engine)) {}
Session::~Session() = default;
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;

Result<Session> Session::open(const std::string& name, SessionOptions options) {
  auto engine = session::Engine::open(name, std::move(options));
  if (!engine) return std::unexpected(engine.error());
  return Session(std::move(*engine));
}

Result<std::vector<std::string>> Session::profiles(const SessionOptions& options) {
  auto profiles = session::profile_store_for(options);
  if (!profiles) return std::unexpected(profiles.error());
  return profiles->list();
}

Result<std::string> Session::default_profile(const SessionOptions& options) {
  auto profiles = session::profile_store_for(options);
  if (!profiles) return std::unexpected(profiles.error());
  return profiles->default_name();
}

Result<void> Session::set_default_profile(const std::string& name, const SessionOptions& options) {
  auto profiles = session::profile_store_for(options);
  if (!profiles) return std::unexpected(profiles.error());
  return profiles->set_default(name);
}

Result<TokenInfo> Session::login(const LoginObserver& observer) { return login(LoginSettings{}, observer); }

Result<TokenInfo> Session::login(const LoginSettings& settings, const LoginObserver& observer) {
  auto signed_in = engine_->sign_in(settings, observer);
  if (!signed_in) return std::unexpected(signed_in.error());
  engine_ = std::move(signed_in->engine);
  return std::move(signed_in->info);
}

Result<AccessToken> Session::access_token(long long min_ttl) { return engine_->access_token(min_ttl); }
Result<TokenInfo> Session::refresh() { return engine_->refresh(); }
Result<LogoutOutcome> Session::logout() { return engine_->logout(); }
Result<LogoutOutcome> Session::logout_from(TokenStore& other) { return engine_->logout_from(other); }
Result<void> Session::check_token_destination(std::string_view url) const { return engine_->check_token_destination(url); }
Result<HttpResponse> Session::fetch(HttpRequest request, long long min_ttl) { return engine_->fetch(std::move(request), min_ttl); }

Result<HttpResponse> Session::get(const std::string& url, HttpHeaders headers, long long min_ttl) {
  HttpRequest request;
  request.method = "GET";
  request.url = url;
  request.headers = std::move(headers);
  return fetch(std::move(request), min_ttl);
}

Result<RequestCredentials> Session::request_credentials(std::string_view method, std::string_view url,
                                                        long long min_ttl) {
  return engine_->request_credentials(method, url, min_ttl);
}
Result<bool> Session::learn_from_response(std::string_view url, const HttpResponse& response) {
  return engine_->learn_from_response(url, response);
}

Result<SessionStatus> Session::status() { return engine_->status(); }
Result<bool> Session::forget() { return engine_->forget(); }
const Profile& Session::profile() const { return engine_->profile(); }
TokenStore& Session::store() { return engine_->store(); }

}  // namespace devicelogin
