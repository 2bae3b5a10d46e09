#pragma once
// Client authentication at the token, device authorization, revocation and introspection
// endpoints (RFC 6749 §2.3.1): HTTP Basic or client_secret_post for confidential clients, a bare
// client_id for public ones.
#include <string>
#include <unordered_map>

#include <httplib.h>

#include "devserver/server.hpp"
#include "http_common.hpp"

namespace devicelogin::devserver {

class ClientAuth {
 public:
  // Authenticates against `clients` (by client_id), which must outlive this object.
  explicit ClientAuth(const std::unordered_map<std::string, ClientSpec>& clients) : clients_(clients) {}

  // The client the request authenticates as; invalid_client (401, with a Basic challenge when
  // Basic was used) for unknown clients and wrong or missing secrets, invalid_request (400) for
  // credentials sent twice or disagreeing. `confidential_only` refuses public clients.
  [[nodiscard]] OAuthResult<const ClientSpec*> authenticate(const httplib::Request& req, const Form& form,
                                                            bool confidential_only) const;

  // Checks that the body is a form without repeated parameters and authenticates the client;
  // answers the error itself and returns null when either fails.
  [[nodiscard]] const ClientSpec* begin_request(const httplib::Request& req, httplib::Response& res,
                                                const Form& form, bool confidential_only) const;

 private:
  const std::unordered_map<std::string, ClientSpec>& clients_;
};

}  // namespace devicelogin::devserver
