#pragma once
// Provider presets: endpoints and quirks of GitHub, Google, Microsoft Entra, WorkOS, and the
// discovery-based Auth0, Okta and Keycloak.
#include <string>
#include <string_view>

#include "devicelogin/profile.hpp"

namespace devicelogin::oauth {

// How a provider writes its issuer identifier, which discovery (RFC 8414 §3.3, OpenID Connect
// Discovery §4.3) and ID-token validation compare exactly.
enum class IssuerSlash {
  kAsGiven,    // a generic server: the issuer is used exactly as given
  kTrailing,   // Auth0: "https://TENANT.auth0.com/" always ends with '/'
  kNoTrailing  // Okta ("https://ORG.okta.com/oauth2/default"), Keycloak (".../realms/NAME"): never
};

// How a provider departs from the RFCs, beyond its endpoints.
struct ProviderQuirks {
  bool requires_client_secret = false;  // Google: the device flow needs the client secret
  bool discovery_from_issuer = false;   // Auth0/Okta/Keycloak: endpoints come from --issuer
  bool has_message = false;             // Entra: the response carries ready-made instructions
  // WorkOS User Management has no RFC 7009 endpoint: GET <token endpoint's origin><path>
  // ?session_id=<the access token's sid claim> ends the session and its refresh token.
  std::string_view session_logout_path{};
  IssuerSlash issuer_slash = IssuerSlash::kAsGiven;
};

// A provider's fixed facts. Templates may contain {tenant} and {client_id}.
struct ProviderPreset {
  std::string_view name;
  std::string_view issuer;
  std::string_view device_authorization;
  std::string_view token;
  std::string_view revocation;
  std::string_view userinfo;
  std::string_view jwks;
  std::string_view default_scope;
  ClientAuth client_auth = ClientAuth::kBasic;
  ProviderQuirks quirks;
  // The hosts the provider's verification page is on, as its device authorization endpoint
  // returns them, space-separated; "*.name" is any host under name. Empty for presets whose page
  // is on the issuer's own host (the discovery presets).
  std::string_view verification_hosts{};
  // RFC 6749 §3.1 authorization endpoint, for the browser flow; empty for the discovery presets.
  std::string_view authorization{};
};

// The preset called `name`, or nullptr.
[[nodiscard]] const ProviderPreset* find_provider(std::string_view name);
// "github, google, ..." for messages and --help.
[[nodiscard]] std::string provider_names();
// The quirks of a profile's provider (none for a generic server).
[[nodiscard]] ProviderQuirks quirks_for(std::string_view provider);
// The issuer a user typed for a discovery preset, in the one form that provider uses (a trailing
// '/' added for Auth0, removed for Okta and Keycloak), so that the exact comparison of discovery
// accepts "https://tenant.auth0.com" for Auth0. Unchanged for other presets and generic servers.
[[nodiscard]] std::string preset_issuer_form(const ProviderPreset* preset, std::string issuer);
// Replaces {tenant} and {client_id} in a preset template.
[[nodiscard]] std::string expand_template(std::string_view text, std::string_view tenant, std::string_view client_id);

// Microsoft Entra's multi-tenant aliases (common, organizations, consumers; any case): not
// issuers, their tokens carry the user's own tenant.
[[nodiscard]] bool is_entra_tenant_alias(std::string_view tenant);
// The issuer Entra's tokens for tenant id `tenant_id` carry: the microsoft preset's issuer,
// https://login.microsoftonline.com/<tenant id>/v2.0.
[[nodiscard]] std::string entra_tenant_issuer(std::string_view tenant_id);

}  // namespace devicelogin::oauth
