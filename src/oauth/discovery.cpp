#include "oauth/discovery.hpp"

#include <nlohmann/json.hpp>

#include "devicelogin/advanced/error_builders.hpp"
#include "devicelogin/sanitize.hpp"
#include "oauth/jwt.hpp"
#include "oauth/providers.hpp"
#include "oauth/wire.hpp"

namespace devicelogin::oauth {
namespace {

using json = nlohmann::json;

std::string without_trailing_slash(std::string text) {
  while (!text.empty() && text.back() == '/') text.pop_back();
  return text;
}

std::string string_member(const json& doc, const char* name) {
  auto it = doc.find(name);
  if (it == doc.end() || !it->is_string()) return {};
  return sanitize_text(it->get<std::string>());
}

}  // namespace

std::pair<std::string, std::string> metadata_urls(const std::string& issuer) {
  std::string base = without_trailing_slash(issuer);
  std::string oidc = base + "/.well-known/openid-configuration";
  // RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path.
  std::string rfc8414;
  auto scheme_end = base.find("://");
  auto path_start = scheme_end == std::string::npos ? std::string::npos : base.find('/', scheme_end + 3);
  if (path_start == std::string::npos) {
    rfc8414 = base + "/.well-known/oauth-authorization-server";
  } else {
    rfc8414 = base.substr(0, path_start) + "/.well-known/oauth-authorization-server" + base.substr(path_start);
  }
  return {oidc, rfc8414};
}

Result<ServerMetadata> discover(HttpClient& http, const std::string& issuer) {
  if (auto policy = check_url_policy(issuer, "the issuer"); !policy) return std::unexpected(policy.error());
  auto [oidc_url, rfc8414_url] = metadata_urls(issuer);
  Error last_error;
  for (const std::string& url : {oidc_url, rfc8414_url}) {
    auto response = get_json(http, url);
    if (!response) return std::unexpected(response.error());
    if (response->status == 404 || response->status == 400 || response->status == 405) {
      last_error = Error{ErrorCode::kConfig, "no discovery document at " + url, "", response->status};
      continue;
    }
    if (response->status != 200) {
      return fail(ErrorCode::kServer, "discovery at " + url + " answered HTTP " + std::to_string(response->status),
                  "", response->status);
    }
    json doc = json_nesting_within(response->body) ? json::parse(response->body, nullptr, false) : json(json::value_t::discarded);
    if (doc.is_discarded() || !doc.is_object()) {
      return fail(ErrorCode::kServer, "discovery document at " + url + " is not a JSON object");
    }
    ServerMetadata metadata;
    metadata.issuer = string_member(doc, "issuer");
    if (metadata.issuer != issuer) {
      // RFC 8414 §3.3 / OIDC Discovery §4.3: the issuer must be identical to the one used to build
      // the URL; anything else, even a trailing '/', means the document is not this issuer's.
      const bool only_slash = without_trailing_slash(metadata.issuer) == without_trailing_slash(issuer);
      return fail(ErrorCode::kConfig, "the discovery document at " + url + " names issuer \"" + metadata.issuer +
                                          "\", not the requested \"" + issuer + "\"" +  // NOLINT(performance-inefficient-string-concatenation): a failure path, run once
                                          (only_slash ? " (issuers must match exactly, including a trailing '/': "
                                                        "use the issuer as the server names it)"
                                                      : ""));
    }
    metadata.endpoints.device_authorization = string_member(doc, "device_authorization_endpoint");
    metadata.endpoints.token = string_member(doc, "token_endpoint");
    metadata.endpoints.revocation = string_member(doc, "revocation_endpoint");
    metadata.endpoints.userinfo = string_member(doc, "userinfo_endpoint");
    metadata.endpoints.jwks = string_member(doc, "jwks_uri");
    metadata.endpoints.authorization = string_member(doc, "authorization_endpoint");
    if (auto algs = doc.find("dpop_signing_alg_values_supported"); algs != doc.end() && algs->is_array()) {
      for (const auto& alg : *algs) {
        // Server text: only short algorithm names are kept (they reach a profile file).
        if (alg.is_string() && !alg.get<std::string>().empty() && alg.get<std::string>().size() <= 32) {
          metadata.dpop_algs.push_back(sanitize_text(alg.get<std::string>()));
        }
      }
    }
    return metadata;
  }
  last_error.message = "no discovery document for " + issuer + " (tried " + oidc_url + " and " + rfc8414_url + ")";
  return std::unexpected(last_error);
}

Result<std::string> discover_entra_tenant_issuer(HttpClient& http, const std::string& tenant) {
  const std::string url = entra_tenant_issuer(tenant) + "/.well-known/openid-configuration";
  auto response = get_json(http, url);
  if (!response) {
    Error error = response.error();
    error.message = "cannot read the metadata of Microsoft tenant " + tenant + ": " + error.message;
    return std::unexpected(error);
  }
  if (response->status == 400 || response->status == 404) {
    return fail(ErrorCode::kConfig, "Microsoft does not know the tenant \"" + tenant + "\" (" + url + " answered HTTP " +
                                        std::to_string(response->status) + ")", "", response->status);
  }
  if (response->status != 200) {
    return fail(ErrorCode::kServer, url + " answered HTTP " + std::to_string(response->status), "", response->status);
  }
  json doc = json_nesting_within(response->body) ? json::parse(response->body, nullptr, false) : json(json::value_t::discarded);
  if (doc.is_discarded() || !doc.is_object()) return fail(ErrorCode::kServer, url + " is not a JSON object");
  std::string issuer = string_member(doc, "issuer");  // not const: returned by move
  // Its first path segment must be a tenant id, and the whole issuer what that id gives.
  const auto host_end = issuer.find('/', std::string_view("https://").size());
  const auto id_end = host_end == std::string::npos ? std::string::npos : issuer.find('/', host_end + 1);
  const std::string id = id_end == std::string::npos ? std::string() : issuer.substr(host_end + 1, id_end - host_end - 1);
  if (!guid_shaped(id) || issuer != entra_tenant_issuer(id)) {
    return fail(ErrorCode::kConfig, "the metadata of Microsoft tenant " + tenant + " names issuer \"" + issuer +
                                        "\", not https://login.microsoftonline.com/<tenant id>/v2.0");
  }
  return issuer;
}

}  // namespace devicelogin::oauth
