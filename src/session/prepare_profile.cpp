#include "core/encoding.hpp"
#include "core/fs.hpp"
#include "devicelogin/advanced/error_builders.hpp"
#include "devicelogin/advanced/token_store.hpp"
#include "devicelogin/session.hpp"
#include "http/server_time.hpp"
#include "oauth/discovery.hpp"
#include "oauth/jwt.hpp"
#include "oauth/providers.hpp"

namespace devicelogin {
namespace {

// A setting is missing, wrong or does not fit the others: kUsage naming the LoginSettings field(s).
std::unexpected<Error> settings_fail(std::string message, std::string setting, ErrorCode code = ErrorCode::kUsage) {
  return std::unexpected(remedy_error(code, std::move(message), Remedy::kFixSettings, {}, std::move(setting)));
}

// Settings are missing: kUsage (or `code`) naming the LoginSettings field(s) to give.
std::unexpected<Error> missing_settings(std::string message, std::string setting, ErrorCode code = ErrorCode::kUsage) {
  return std::unexpected(remedy_error(code, std::move(message), Remedy::kAddSettings, {}, std::move(setting)));
}

void override_if_set(std::string& target, const std::string& value) {
  if (!value.empty()) target = value;
}

}  // namespace

Result<Profile> prepare_profile(const LoginSettings& settings, HttpClient& http_client) {
  // Discovery's answers are the first word from the server's clock (kept in the profile).
  SystemClock clock;
  http::ServerClockObserver http(http_client, clock);
  if (!valid_profile_name(settings.profile)) {
    return settings_fail("invalid profile name \"" + settings.profile + "\" (use letters, digits, '.', '_' and '-')", "profile");
  }
  if (settings.client_id.empty()) return missing_settings("a client id is required", "client_id");
  Profile profile;
  profile.name = settings.profile;
  profile.provider = settings.provider;
  profile.client_id = settings.client_id;
  profile.audience = settings.audience;
  profile.client_secret_file = settings.client_secret_file;
  profile.client_secret_env = settings.client_secret_env;
  profile.ca_file = settings.ca_file;
  auto store_name = resolve_store_name(settings.store.empty() ? "auto" : settings.store);
  if (!store_name) return std::unexpected(store_name.error());
  profile.store = *store_name;
  profile.scope = settings.scope;

  const oauth::ProviderPreset* preset = nullptr;
  if (!settings.provider.empty()) {
    preset = oauth::find_provider(settings.provider);
    if (preset == nullptr) {
      return settings_fail("unknown provider \"" + settings.provider + "\" (known: " + oauth::provider_names() + ")", "provider");
    }
    if (settings.provider != "microsoft" && !settings.tenant.empty()) {
      return settings_fail("a tenant applies only to the microsoft provider", "tenant");
    }
    profile.tenant = settings.provider == "microsoft" ? (settings.tenant.empty() ? "organizations" : settings.tenant) : "";
    if (profile.tenant.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") !=
        std::string::npos) {
      return settings_fail("the tenant must be a tenant id, a domain, common, organizations or consumers", "tenant");
    }
    // Entra's iss carries a tenant id in lower case.
    if (oauth::guid_shaped(profile.tenant)) profile.tenant = core::ascii_lower(profile.tenant);
    auto expand = [&](std::string_view text) { return oauth::expand_template(text, profile.tenant, profile.client_id); };
    profile.issuer = expand(preset->issuer);
    profile.endpoints = Endpoints{expand(preset->device_authorization), expand(preset->token), expand(preset->revocation),
                                  expand(preset->userinfo), expand(preset->jwks), expand(preset->authorization)};
    profile.client_auth = preset->client_auth;
    if (profile.scope.empty()) profile.scope = std::string(preset->default_scope);
  } else if (!settings.tenant.empty()) {
    return settings_fail("a tenant applies only to the microsoft provider", "tenant");
  }

  // Entra tokens name their tenant by id: a tenant given by domain is resolved to its id's issuer,
  // which the ID token's iss must equal. Not when endpoint flags point elsewhere (a local server).
  if (profile.provider == "microsoft" && settings.issuer.empty() && settings.endpoints.token.empty()) {
    if (!oauth::is_entra_tenant_alias(profile.tenant) && !oauth::guid_shaped(profile.tenant)) {
      auto issuer = oauth::discover_entra_tenant_issuer(http, profile.tenant);
      if (!issuer) return std::unexpected(issuer.error());
      profile.issuer = *issuer;
    }
  }

  const bool needs_discovery = preset == nullptr || preset->quirks.discovery_from_issuer;
  if (needs_discovery) {
    const bool explicit_endpoints =
        (!settings.endpoints.device_authorization.empty() || !settings.endpoints.authorization.empty()) &&
        !settings.endpoints.token.empty();
    if (!settings.issuer.empty()) {
      // Discovery compares issuers exactly; a preset knows its provider's one form (Auth0: '/').
      const std::string issuer = oauth::preset_issuer_form(preset, settings.issuer);
      auto metadata = oauth::discover(http, issuer);
      if (!metadata) {
        // Discovery is optional when every needed endpoint was given explicitly.
        if (!explicit_endpoints || metadata.error().code != ErrorCode::kConfig) return std::unexpected(metadata.error());
        profile.issuer = issuer;
      } else {
        profile.issuer = metadata->issuer;
        profile.endpoints = metadata->endpoints;
        profile.dpop_algs = metadata->dpop_algs;
      }
    } else if (!explicit_endpoints) {
      return preset == nullptr ? missing_settings("no authorization server was given", "issuer|provider")
                               : missing_settings("the " + settings.provider + " provider needs an issuer URL", "issuer");
    }
    if (profile.scope.empty()) profile.scope = "openid offline_access";
  } else if (!settings.issuer.empty()) {
    profile.issuer = settings.issuer;
  }

  // Explicit endpoint flags replace discovered or preset ones and keep the preset's quirks, so
  // every preset can be exercised against a local server.
  override_if_set(profile.endpoints.device_authorization, settings.endpoints.device_authorization);
  override_if_set(profile.endpoints.token, settings.endpoints.token);
  override_if_set(profile.endpoints.revocation, settings.endpoints.revocation);
  override_if_set(profile.endpoints.userinfo, settings.endpoints.userinfo);
  override_if_set(profile.endpoints.jwks, settings.endpoints.jwks);
  override_if_set(profile.endpoints.authorization, settings.endpoints.authorization);

  // Each flow needs its own endpoint; auto needs one of them.
  const LoginFlow flow = settings.flow.value_or(LoginFlow::kAuto);
  if (flow == LoginFlow::kDevice && profile.endpoints.device_authorization.empty()) {
    return missing_settings("the server does not advertise a device_authorization_endpoint",
                         "endpoints.device_authorization", ErrorCode::kConfig);
  }
  if (flow == LoginFlow::kBrowser && profile.endpoints.authorization.empty()) {
    return missing_settings("the server does not advertise an authorization_endpoint (needed by the browser flow)",
                            "endpoints.authorization", ErrorCode::kConfig);
  }
  if (profile.endpoints.device_authorization.empty() && profile.endpoints.authorization.empty()) {
    return missing_settings("the server advertises neither a device_authorization_endpoint nor an authorization_endpoint",
                            "endpoints.device_authorization|endpoints.authorization", ErrorCode::kConfig);
  }
  profile.flow = flow;
  if (profile.endpoints.token.empty()) {
    return missing_settings("the server does not advertise a token_endpoint", "endpoints.token", ErrorCode::kConfig);
  }
  struct Check {
    const std::string& url;
    const char* what;
  };
  for (const Check& check : {Check{profile.endpoints.device_authorization, "the device authorization endpoint"},
                             Check{profile.endpoints.token, "the token endpoint"},
                             Check{profile.endpoints.revocation, "the revocation endpoint"},
                             Check{profile.endpoints.userinfo, "the userinfo endpoint"},
                             Check{profile.endpoints.jwks, "the JWKS URI"},
                             Check{profile.endpoints.authorization, "the authorization endpoint"}}) {
    if (check.url.empty()) continue;
    if (auto policy = check_url_policy(check.url, check.what); !policy) return std::unexpected(policy.error());
  }
  if (profile.client_secret_file.empty() && profile.client_secret_env.empty() &&
      !core::env_or_empty("DEVICELOGIN_CLIENT_SECRET").empty()) {
    profile.client_secret_env = "DEVICELOGIN_CLIENT_SECRET";
  }
  if (profile.client_secret_file.empty() && profile.client_secret_env.empty()) profile.client_auth = ClientAuth::kNone;
  profile.clock_offset_s = http.offset();
  return profile;
}

}  // namespace devicelogin
