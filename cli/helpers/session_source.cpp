#include "session_source.hpp"

#include "output.hpp"

namespace devicelogin::cli::helpers {

namespace {
SourceProblem problem(Error error) { return SourceProblem{false, std::move(error)}; }
}  // namespace

Result<Session*> SessionTokenSource::open(const std::string& profile) {
  // A session names its audit consumer when it opens: another consumer opens another session.
  if (!session_ || opened_profile_ != profile || opened_consumer_ != audit_consumer_ + '\n' + audit_detail_) {
    session_.reset();
    auto session = open_session(profile, verbose_, audit_consumer_, audit_detail_);
    if (!session) return std::unexpected(session.error());
    session_.emplace(std::move(*session));
    opened_profile_ = profile;
    opened_consumer_ = audit_consumer_ + '\n' + audit_detail_;
  }
  return &*session_;
}

SourceResult<AccessToken> SessionTokenSource::access_token(const std::string& profile, long long min_ttl) {
  auto session = open(profile);
  if (!session) return std::unexpected(problem(session.error()));
  auto token = (*session)->access_token(min_ttl);
  if (!token) return std::unexpected(problem(token.error()));
  return std::move(*token);
}

SourceResult<void> SessionTokenSource::refresh_if_current(const std::string& profile, const Secret& rejected) {
  auto session = open(profile);
  if (!session) return std::unexpected(problem(session.error()));
  auto current = (*session)->access_token(0);
  if (!current) return std::unexpected(problem(current.error()));
  if (!current->equals(rejected)) return {};
  if (auto refreshed = (*session)->refresh(); !refreshed) return std::unexpected(problem(refreshed.error()));
  return {};
}

SourceResult<bool> SessionTokenSource::refresh_if_stored(const std::string& profile) {
  auto session = open(profile);
  if (!session) return std::unexpected(problem(session.error()));
  auto status = (*session)->status();
  if (!status && status.error().code == ErrorCode::kNotLoggedIn) return false;
  if (!status) return std::unexpected(problem(status.error()));
  if (!status->logged_in()) return false;
  if (auto refreshed = (*session)->refresh(); !refreshed) return std::unexpected(problem(refreshed.error()));
  return true;
}

}  // namespace devicelogin::cli::helpers
