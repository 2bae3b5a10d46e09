#pragma once
// Authorization server metadata: OpenID Connect Discovery 1.0, falling back to RFC 8414.
#include <string>
#include <vector>

#include "devicelogin/http_client.hpp"
#include "devicelogin/profile.hpp"
#include "devicelogin/result.hpp"

namespace devicelogin::oauth {

struct ServerMetadata {
  std::string issuer;
  Endpoints endpoints;
  // dpop_signing_alg_values_supported (RFC 9449 §5.1): the server's DPoP algorithms; empty when
  // it does not say (or does not do DPoP).
  std::vector<std::string> dpop_algs;
};

// Fetches `<issuer>/.well-known/openid-configuration`, then the RFC 8414 §3.1 location
// `<origin>/.well-known/oauth-authorization-server<path>`. The document's issuer must equal the
// requested one character for character (RFC 8414 §3.3, OpenID Connect Discovery §4.3: a trailing
// '/' is a difference; the well-known URLs are built without it, §3.1). kConfig when neither
// document exists or the issuer differs, kNetwork/kServer on transport or format problems.
[[nodiscard]] Result<ServerMetadata> discover(HttpClient& http, const std::string& issuer);

// Microsoft Entra names a tenant by domain (contoso.onmicrosoft.com, contoso.com) or by id, but
// its tokens always carry the id: iss is https://login.microsoftonline.com/<tenant id>/v2.0. This
// reads the tenant's OIDC metadata (https://login.microsoftonline.com/<tenant>/v2.0/.well-known/
// openid-configuration, over TLS from Microsoft) and returns the issuer it names, which must have
// that form. kConfig when it has another form or the tenant is unknown (Microsoft answers 400).
[[nodiscard]] Result<std::string> discover_entra_tenant_issuer(HttpClient& http, const std::string& tenant);

// The two candidate metadata URLs for an issuer, in the order they are tried.
[[nodiscard]] std::pair<std::string, std::string> metadata_urls(const std::string& issuer);

}  // namespace devicelogin::oauth
