#pragma once
// Authorization server metadata: OpenID Connect Discovery 1.0, falling back to RFC 8414.
#include <string>

#include "devicelogin/http_client.hpp"
#include "devicelogin/profile.hpp"
#include "devicelogin/result.hpp"

namespace devicelogin::oauth {

struct ServerMetadata {
  std::string issuer;
  Endpoints endpoints;
};

// Fetches `<issuer>/.well-known/openid-configuration`, then the RFC 8414 §3.1 location
// `<origin>/.well-known/oauth-authorization-server<path>`. The document's issuer must equal the
// requested one (RFC 8414 §3.3; a single trailing slash is ignored). kConfig when neither
// document exists or the issuer differs, kNetwork/kServer on transport or format problems.
[[nodiscard]] Result<ServerMetadata> discover(HttpClient& http, const std::string& issuer);

// The two candidate metadata URLs for an issuer, in the order they are tried.
[[nodiscard]] std::pair<std::string, std::string> metadata_urls(const std::string& issuer);

}  // namespace devicelogin::oauth
