#pragma once
// Advanced: building an Error, for code that implements a TokenStore or an HttpClient of its own
// (the library's calls return them ready-made).
#include <expected>
#include <string>
#include <utility>

#include "devicelogin/result.hpp"

namespace devicelogin {

// Builds an unexpected Error in one expression: `return fail(ErrorCode::kConfig, "...")`.
[[nodiscard]] inline std::unexpected<Error> fail(ErrorCode code, std::string message,
                                                 std::string oauth_error = {}, int http_status = 0) {
  Error error;
  error.code = code;
  error.message = std::move(message);
  error.oauth_error = std::move(oauth_error);
  error.http_status = http_status;
  return std::unexpected<Error>(std::move(error));
}

// An Error with a remedy, the profile it concerns and the setting(s) to fix.
[[nodiscard]] inline Error remedy_error(ErrorCode code, std::string message, Remedy remedy, std::string profile = {},
                                        std::string setting = {}) {
  Error error;
  error.code = code;
  error.message = std::move(message);
  error.remedy = remedy;
  error.profile = std::move(profile);
  error.setting = std::move(setting);
  return error;
}

// The same error with a remedy (and the profile and setting it concerns) attached.
[[nodiscard]] inline Error with_remedy(Error error, Remedy remedy, std::string profile = {}, std::string setting = {}) {
  error.remedy = remedy;
  if (!profile.empty()) error.profile = std::move(profile);
  if (!setting.empty()) error.setting = std::move(setting);
  return error;
}

}  // namespace devicelogin
