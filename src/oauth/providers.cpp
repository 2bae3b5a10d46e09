#include "oauth/providers.hpp"

#include <array>

#include "core/encoding.hpp"

namespace devicelogin::oauth {
namespace {

// Endpoints are the providers' documented ones; quirks are described where they matter.
constexpr std::array kPresets = {
    // GitHub: no discovery, no RFC 7009 revocation for device-flow apps, errors with HTTP 200,
    // form-encoded bodies unless Accept: application/json is sent (we always send it and parse both).
    ProviderPreset{"github", "https://github.com", "https://github.com/login/device/code",
                   "https://github.com/login/oauth/access_token", "", "https://api.github.com/user", "", "",
                   ClientAuth::kPost, {}, "github.com",
                   // GitHub's web flow; it checks PKCE S256 when a challenge is sent.
                   "https://github.com/login/oauth/authorize"},
    // Google: verification_url instead of verification_uri; the token request needs the secret.
    ProviderPreset{"google", "https://accounts.google.com", "https://oauth2.googleapis.com/device/code",
                   "https://oauth2.googleapis.com/token", "https://oauth2.googleapis.com/revoke",
                   "https://openidconnect.googleapis.com/v1/userinfo", "https://www.googleapis.com/oauth2/v3/certs",
                   "openid email profile", ClientAuth::kPost, {.requires_client_secret = true},
                   // verification_url is https://www.google.com/device.
                   "www.google.com google.com", "https://accounts.google.com/o/oauth2/v2/auth"},
    // Microsoft Entra ID: per-tenant endpoints (default `organizations`), a `message` to show,
    // authorization_declined for a refusal, no revocation endpoint.
    ProviderPreset{"microsoft", "https://login.microsoftonline.com/{tenant}/v2.0",
                   "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/devicecode",
                   "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token", "",
                   "https://graph.microsoft.com/oidc/userinfo",
                   "https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys", "openid profile offline_access",
                   ClientAuth::kPost, {.has_message = true},
                   // verification_uri is https://microsoft.com/devicelogin (newer tenants:
                   // https://login.microsoft.com/device); www. is where microsoft.com redirects.
                   "microsoft.com www.microsoft.com login.microsoft.com",
                   "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize"},
    // WorkOS User Management: no expires_in and no token_type (the JWT's exp schedules refresh);
    // No RFC 7009 revocation, but its public session logout ends the session.
    ProviderPreset{"workos", "https://api.workos.com", "https://api.workos.com/user_management/authorize/device",
                   "https://api.workos.com/user_management/authenticate", "", "",
                   "https://api.workos.com/sso/jwks/{client_id}", "", ClientAuth::kPost,
                   {.session_logout_path = "/user_management/sessions/logout"},
                   // AuthKit's page (https://<subdomain>.authkit.app/device); a custom domain is
                   // the one the profile names as its issuer or device authorization endpoint.
                   "*.authkit.app",
                   // AuthKit's OAuth authorization endpoint (the hosted sign-in, PKCE S256).
                   "https://api.workos.com/user_management/authorize"},
    ProviderPreset{"auth0", "", "", "", "", "", "", "openid profile offline_access", ClientAuth::kPost,
                   {.discovery_from_issuer = true, .issuer_slash = IssuerSlash::kTrailing}},
    ProviderPreset{"okta", "", "", "", "", "", "", "openid profile offline_access", ClientAuth::kBasic,
                   {.discovery_from_issuer = true, .issuer_slash = IssuerSlash::kNoTrailing}},
    ProviderPreset{"keycloak", "", "", "", "", "", "", "openid profile offline_access", ClientAuth::kBasic,
                   {.discovery_from_issuer = true, .issuer_slash = IssuerSlash::kNoTrailing}},
};

}  // namespace

const ProviderPreset* find_provider(std::string_view name) {
  for (const auto& preset : kPresets) {
    if (preset.name == name) return &preset;
  }
  return nullptr;
}

std::string provider_names() {
  std::string out;
  for (const auto& preset : kPresets) {
    if (!out.empty()) out += ", ";
    out += preset.name;
  }
  return out;
}

ProviderQuirks quirks_for(std::string_view provider) {
  const ProviderPreset* preset = find_provider(provider);
  return preset == nullptr ? ProviderQuirks{} : preset->quirks;
}

std::string preset_issuer_form(const ProviderPreset* preset, std::string issuer) {
  if (preset == nullptr || issuer.empty()) return issuer;
  switch (preset->quirks.issuer_slash) {
    case IssuerSlash::kAsGiven:
      break;
    case IssuerSlash::kTrailing:
      if (issuer.back() != '/') issuer.push_back('/');
      break;
    case IssuerSlash::kNoTrailing:
      while (!issuer.empty() && issuer.back() == '/') issuer.pop_back();
      break;
  }
  return issuer;
}

std::string expand_template(std::string_view text, std::string_view tenant, std::string_view client_id) {
  std::string out(text);
  auto replace_all = [&](std::string_view key, std::string_view value) {
    for (auto pos = out.find(key); pos != std::string::npos; pos = out.find(key, pos + value.size())) {
      out.replace(pos, key.size(), value);
    }
  };
  replace_all("{tenant}", tenant);
  replace_all("{client_id}", client_id);
  return out;
}

bool is_entra_tenant_alias(std::string_view tenant) {
  const std::string lower = core::ascii_lower(tenant);
  return lower == "common" || lower == "organizations" || lower == "consumers";
}

std::string entra_tenant_issuer(std::string_view tenant_id) {
  return expand_template(find_provider("microsoft")->issuer, tenant_id, "");
}

}  // namespace devicelogin::oauth
