#pragma once
// SessionTokenSource: the full CLI's tokens, through the Session facade (which refreshes under
// the store's lock and explains every failure). Not linked into the fast executable.
#include <optional>
#include <string>

#include "devicelogin/session.hpp"
#include "helpers.hpp"

namespace devicelogin::cli::helpers {

class SessionTokenSource final : public TokenSource {
 public:
  // `verbose`: the sessions it opens write their redacted HTTP trace on stderr.
  explicit SessionTokenSource(bool verbose) : verbose_(verbose) {}
  [[nodiscard]] SourceResult<AccessToken> access_token(const std::string& profile, long long min_ttl) override;
  [[nodiscard]] SourceResult<void> refresh_if_current(const std::string& profile, const Secret& rejected) override;
  [[nodiscard]] SourceResult<bool> refresh_if_stored(const std::string& profile) override;
  // Closes the session (its HTTP connections and store descriptors), e.g. before `exec`.
  void close() { session_.reset(); }

 private:
  Result<Session*> open(const std::string& profile);
  bool verbose_;
  std::optional<std::string> opened_profile_;
  std::string opened_consumer_;
  std::optional<Session> session_;
};

}  // namespace devicelogin::cli::helpers
