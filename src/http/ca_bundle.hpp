#pragma once
// Internal: the CA bundle for `--ca-file`-style additions. libcurl's CURLOPT_CAINFO replaces the
// trust store; an addition is the base bundle followed by the extra certificates, handed to
// libcurl as CURLOPT_CAINFO_BLOB (which every libcurl TLS backend we may meet accepts, and whose
// certificates are parsed exactly as CAINFO's would be).
#include <string>

#include "devicelogin/result.hpp"

namespace devicelogin::http {

// The text of `base_path` (the trusted bundle: the system's, or SSL_CERT_FILE), a newline, then
// that of `extra_path`. kConfig naming `extra_path` when it cannot be read or holds no PEM
// certificate; a missing or unreadable base only leaves the base out (the extra still applies,
// and libcurl's CA directory, if any, too).
// The bundle trusted without any addition: SSL_CERT_FILE when set (it replaces the system bundle,
// as for OpenSSL and curl), else libcurl's built-in CA file; empty when libcurl has none.
[[nodiscard]] std::string base_ca_bundle_path();

[[nodiscard]] Result<std::string> combined_ca_bundle(const std::string& base_path, const std::string& extra_path);

}  // namespace devicelogin::http
