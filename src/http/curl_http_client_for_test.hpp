#pragma once
// Test hook of the libcurl client: tests touch only 127.0.0.1, never DNS.
#include <memory>
#include <string>
#include <vector>

#include "devicelogin/http_client.hpp"

namespace devicelogin::http {

// make_curl_http_client whose name lookups are answered first from `resolve` (libcurl's
// CURLOPT_RESOLVE entries "HOST:PORT:ADDRESS"), so that a test can give a non-loopback name,
// which the URL policy and the proxy rules treat as remote, the address 127.0.0.1.
[[nodiscard]] std::unique_ptr<HttpClient> make_curl_http_client_for_test(HttpOptions options,
                                                                         std::vector<std::string> resolve);

}  // namespace devicelogin::http
