#pragma once
// Profile: what a login remembers so later commands need only `--profile NAME`.
#include <optional>
#include <string>
#include <vector>

#include "devicelogin/export.hpp"
#include "devicelogin/result.hpp"

namespace devicelogin {

// How the client authenticates at the token endpoint when it has a secret (RFC 6749 §2.3.1).
enum class ClientAuth { kNone, kBasic, kPost };

// The endpoints one authorization server exposes.
struct Endpoints {
  std::string device_authorization{};
  std::string token{};
  std::string revocation{};
  std::string userinfo{};
  std::string jwks{};
  // RFC 6749 §3.1: where the browser sign-in (authorization code flow) starts; empty when the
  // server has none (a device-flow-only server).
  std::string authorization{};
};

// How a profile signs in: the device flow (RFC 8628), the browser flow on this machine
// (authorization code with PKCE and a loopback redirect, RFC 8252), or auto: the device flow when
// this machine has no browser, the browser flow when the server has no device flow or refuses it
// as turned off for the app.
enum class LoginFlow { kAuto, kDevice, kBrowser };

// "auto", "device" or "browser".
[[nodiscard]] DEVICELOGIN_API const char* login_flow_name(LoginFlow flow);
// The flow of that name; nullopt for any other text.
[[nodiscard]] DEVICELOGIN_API std::optional<LoginFlow> parse_login_flow(std::string_view name);

// A named login configuration. Holds no secret: a client secret is referenced by file or
// environment variable name, and read only when a request needs it.
struct Profile {
  std::string name = "default";
  std::string provider;  // "" (generic), github, google, microsoft, workos, auth0, okta, keycloak
  std::string issuer;
  std::string tenant;
  std::string client_id;
  std::string scope;
  std::string audience;
  Endpoints endpoints;
  std::string client_secret_file;  // path, or empty
  std::string client_secret_env;   // environment variable name, or empty
  ClientAuth client_auth = ClientAuth::kBasic;
  std::string ca_file;
  std::string store = "file";
  std::string jwks_cache;  // the issuer's JWKS (JSON) that last verified an ID token, or empty
  long long jwks_cache_expires_at = 0;  // unix seconds after which jwks_cache is fetched again
  // The server's clock minus the local clock (seconds), from the `Date` headers of discovery and
  // the last login; nullopt when the server gave none usable. Refreshes keep theirs with the tokens.
  std::optional<long long> clock_offset_s;
  // Base URLs of the APIs this profile's access token is meant for (a caller's "credential
  // hosts"): the first resolves relative paths; together with the userinfo endpoint they are the
  // origins a caller may send the token to. Empty when none was given.
  std::vector<std::string> api_urls{};
  // Whether tokens are bound to a proof-of-possession key (DPoP, RFC 9449): every token request
  // and every API request then carries a proof signed by the key stored with the tokens.
  bool dpop = false;
  // The DPoP algorithms the server's discovery lists (dpop_signing_alg_values_supported); empty
  // when it lists none. A DPoP login makes an EdDSA key when EdDSA is among them, else ES256.
  std::vector<std::string> dpop_algs{};
  // How this profile signs in (remembered from the last login that chose one).
  LoginFlow flow = LoginFlow::kAuto;
};

// True for names made of [A-Za-z0-9._-], 1..64 chars, not starting with '.'.
[[nodiscard]] DEVICELOGIN_API bool valid_profile_name(std::string_view name);

}  // namespace devicelogin
