#include "devicelogin/result.hpp"

namespace devicelogin {

int exit_code_for(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::kUsage:
    case ErrorCode::kConfig: return 2;
    case ErrorCode::kAccessDenied: return 3;
    case ErrorCode::kExpiredToken: return 4;
    case ErrorCode::kNotLoggedIn:
    case ErrorCode::kReloginRequired: return 5;
    case ErrorCode::kNetwork:
    case ErrorCode::kServer: return 6;
    case ErrorCode::kStorage: return 7;
    case ErrorCode::kCancelled: return 130;
    case ErrorCode::kProtocol:
    case ErrorCode::kInternal: return 1;
  }
  return 1;
}

const char* error_code_name(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::kUsage: return "usage";
    case ErrorCode::kConfig: return "configuration";
    case ErrorCode::kAccessDenied: return "access_denied";
    case ErrorCode::kExpiredToken: return "expired_token";
    case ErrorCode::kNotLoggedIn: return "not_logged_in";
    case ErrorCode::kReloginRequired: return "relogin_required";
    case ErrorCode::kNetwork: return "network";
    case ErrorCode::kServer: return "server";
    case ErrorCode::kProtocol: return "protocol";
    case ErrorCode::kStorage: return "storage";
    case ErrorCode::kCancelled: return "cancelled";
    case ErrorCode::kInternal: return "internal";
  }
  return "internal";
}

}  // namespace devicelogin

namespace devicelogin {

const char* remedy_name(Remedy remedy) noexcept {
  switch (remedy) {
    case Remedy::kNone: return "none";
    case Remedy::kSignIn: return "sign_in";
    case Remedy::kFixSettings: return "fix_settings";
    case Remedy::kAddSettings: return "add_settings";
    case Remedy::kChooseStore: return "choose_store";
    case Remedy::kFixPermissions: return "fix_permissions";
    case Remedy::kTryAgainLater: return "try_again_later";
    case Remedy::kUseBrowserFlow: return "use_browser_flow";
  }
  return "none";
}

}  // namespace devicelogin
