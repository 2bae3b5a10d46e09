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

// What the user can do about an error, for a program to render in its own words (its commands,
// its flags, its buttons). Library messages describe the problem only and never name a command.
enum class Remedy {
  kNone,             // nothing in particular (a bug, or the message says all there is)
  kSignIn,           // sign in (again) for Error::profile: nothing stored, or the tokens are no longer usable
  kFixSettings,      // a login setting has a wrong value: change the one Error::setting names
  kAddSettings,      // login settings are missing: give the ones Error::setting names
  kChooseStore,      // use another token store: Error::setting lists the usable ones, best first
  kFixPermissions,   // make the file or directory the message names private to the user
  kTryAgainLater,    // transient: the network, a busy server, another process holding the profile
  kUseBrowserFlow,   // device-code sign-in is turned off for this app: sign in with a browser (redirect) flow instead
};

// A failure: code, one-line human message (never a secret or a response body), and where they
// exist the OAuth `error` string and the HTTP status, a remedy and the profile it concerns.
struct Error {
  Error() = default;
  Error(ErrorCode code_in, std::string message_in, std::string oauth_error_in = {}, int http_status_in = 0)
      : code(code_in), message(std::move(message_in)), oauth_error(std::move(oauth_error_in)), http_status(http_status_in) {}

  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  std::string oauth_error;
  int http_status = 0;
  Remedy remedy = Remedy::kNone;
  std::string profile;  // the profile the error concerns, when there is one
  // For kFixSettings and kAddSettings: the LoginSettings fields, by their C++ names ("client_id"); '|'
  // separates alternatives and ',' fields that are all needed ("issuer|provider,client_id").
  // For kChooseStore: token store names separated by ',' ("kernel-keyring,file").
  std::string setting;
};

template <class T>
using Result = std::expected<T, Error>;

// Stable short name of a remedy ("sign_in", "fix_settings", ...), for JSON and bindings.
[[nodiscard]] DEVICELOGIN_API const char* remedy_name(Remedy remedy) noexcept;

// The documented process exit code for an error (README "Exit codes").
[[nodiscard]] DEVICELOGIN_API int exit_code_for(ErrorCode code) noexcept;

// Stable short name of an error code, used as the `error` field of JSON events when no OAuth
// error string exists ("network", "storage", ...).
[[nodiscard]] DEVICELOGIN_API const char* error_code_name(ErrorCode code) noexcept;

}  // namespace devicelogin
