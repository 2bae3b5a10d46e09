#pragma once
// Result<T> and Error: how every fallible devicelogin call reports failure (no exceptions cross the API).
#include <expected>
#include <string>

#include "devicelogin/export.hpp"

namespace devicelogin {

// What went wrong, coarse enough to choose an exit code and a next step.
enum class ErrorCode {
  kUsage,            // bad flags or arguments
  kConfig,           // bad or missing configuration (profile, endpoint, policy)
  kAccessDenied,     // the user or the server refused the authorization
  kExpiredToken,     // the device code expired before approval
  kNotLoggedIn,      // nothing stored for this profile
  kReloginRequired,  // the refresh token was rejected
  kNetwork,          // connection, TLS, timeout
  kServer,           // 5xx, malformed or unexpected server answer
  kProtocol,         // a well-formed OAuth error that ends the operation (invalid_client, ...)
  kStorage,          // token store or profile store failure
  kCancelled,        // the user interrupted
  kInternal,         // a bug
};

// A failure: code, one-line human message (never a secret or a response body), and where they
// exist the OAuth `error` string and the HTTP status.
struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  std::string oauth_error;
  int http_status = 0;
};

template <class T>
using Result = std::expected<T, Error>;

// Builds an unexpected Error in one expression: `return fail(ErrorCode::kConfig, "...")`.
[[nodiscard]] inline std::unexpected<Error> fail(ErrorCode code, std::string message,
                                                 std::string oauth_error = {}, int http_status = 0) {
  return std::unexpected<Error>(Error{code, std::move(message), std::move(oauth_error), http_status});
}

// The documented process exit code for an error (README "Exit codes").
[[nodiscard]] DEVICELOGIN_API int exit_code_for(ErrorCode code) noexcept;

// Stable short name of an error code, used as the `error` field of JSON events when no OAuth
// error string exists ("network", "storage", ...).
[[nodiscard]] DEVICELOGIN_API const char* error_code_name(ErrorCode code) noexcept;

}  // namespace devicelogin
