#include "core/encoding.hpp"
#include "devicelogin/http_client.hpp"

namespace devicelogin {

std::string HttpResponse::header(std::string_view name) const {
  const std::string wanted = core::ascii_lower(name);
  for (const auto& [header_name, value] : headers) {
    if (core::ascii_lower(header_name) == wanted) return value;
  }
  return {};
}

}  // namespace devicelogin
