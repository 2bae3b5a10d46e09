#include "oauth/authorization_code.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <optional>
#include <vector>

#include "core/encoding.hpp"
#include "devicelogin/advanced/error_builders.hpp"
#include "devicelogin/sanitize.hpp"

namespace devicelogin::oauth {
namespace {

// A callback's query is short (code, state, a few more); longer values are not ours.
constexpr std::size_t kMaxParameterLength = 4096;

}  // namespace

Result<Secret> random_base64url(std::size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) {
    return fail(ErrorCode::kInternal, "the random number generator failed");
  }
  std::string encoded = core::base64url_encode(std::string_view(reinterpret_cast<const char*>(raw.data()), raw.size()));
  OPENSSL_cleanse(raw.data(), raw.size());
  return Secret(std::move(encoded));
}

std::string pkce_s256_challenge(std::string_view code_verifier) {
  std::array<unsigned char, 32> digest{};
  unsigned int size = 0;
  if (EVP_Digest(code_verifier.data(), code_verifier.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1 ||
      size != digest.size()) {
    return {};
  }
  return core::base64url_encode(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

std::string authorization_url(const Profile& profile, const AuthorizationRequest& request) {
  // RFC 6749 §4.1.1 and RFC 7636 §4.3; OIDC Core §3.1.2.1 for nonce.
  core::FormFields fields = {{"response_type", "code"},
                             {"client_id", profile.client_id},
                             {"redirect_uri", request.redirect_uri}};
  if (!profile.scope.empty()) fields.emplace_back("scope", profile.scope);
  if (!profile.audience.empty()) fields.emplace_back("audience", profile.audience);
  fields.emplace_back("state", request.state);
  if (!request.nonce.empty()) fields.emplace_back("nonce", request.nonce);
  fields.emplace_back("code_challenge", request.code_challenge);
  fields.emplace_back("code_challenge_method", "S256");
  if (!request.dpop_jkt.empty()) fields.emplace_back("dpop_jkt", request.dpop_jkt);
  const std::string& endpoint = profile.endpoints.authorization;
  // RFC 6749 §3.1: the endpoint's own query is kept; a fragment is not allowed there.
  std::string url = endpoint.substr(0, endpoint.find('#'));
  if (url.find('?') == std::string::npos) {
    url.push_back('?');
  } else if (!url.ends_with('?') && !url.ends_with('&')) {
    url.push_back('&');
  }
  url += core::form_encode(fields);
  return url;
}

CallbackVerdict judge_callback(std::string_view method, std::string_view target, std::string_view path,
                               const Secret& state) {
  CallbackVerdict verdict;
  auto reject = [&](std::string reason) {
    verdict.kind = CallbackVerdict::Kind::kRejected;
    verdict.reason = std::move(reason);
    return std::move(verdict);
  };
  if (method != "GET") return reject("only GET is answered here");
  const std::size_t query_start = target.find('?');
  const std::string_view request_path = target.substr(0, query_start);
  if (request_path != path) return reject("not the sign-in callback");
  std::string_view query = query_start == std::string_view::npos ? std::string_view() : target.substr(query_start + 1);
  std::optional<Secret> got_state;
  std::optional<Secret> code;
  std::optional<std::string> error;
  std::string error_description;
  bool duplicate = false;
  bool too_long = false;
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    const std::string name = core::url_decode(pair.substr(0, eq));
    const std::string_view raw_value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (raw_value.size() > kMaxParameterLength) {
      too_long = true;
      continue;
    }
    // Decoded straight into wiping storage when the value may be a credential.
    if (name == "code" || name == "state") {
      std::string decoded = core::url_decode(raw_value);
      std::optional<Secret>& slot = name == "code" ? code : got_state;
      if (slot) duplicate = true;
      slot = Secret(std::move(decoded));
    } else if (name == "error") {
      if (error) duplicate = true;
      error = core::url_decode(raw_value);
    } else if (name == "error_description") {
      error_description = core::url_decode(raw_value);
    }
  }
  // RFC 6749 §3.1: parameters must not be sent more than once; §10.12: state binds the answer.
  if (too_long) return reject("a parameter is too long");
  if (duplicate) return reject("a parameter is repeated");
  if (!got_state || got_state->empty()) return reject("the state parameter is missing");
  if (!got_state->equals(state)) return reject("the state parameter does not match this sign-in");
  if (code && error) return reject("the answer carries both a code and an error");
  if (error) {
    const std::string shown = sanitize_text(std::string_view(*error).substr(0, 64));
    if (shown.empty()) return reject("the error parameter is empty");
    verdict.kind = CallbackVerdict::Kind::kError;
    verdict.error.error = shown;
    verdict.error.description = sanitize_text(std::string_view(error_description).substr(0, 300));
    return verdict;
  }
  if (!code || code->empty()) return reject("the code parameter is missing");
  verdict.kind = CallbackVerdict::Kind::kCode;
  verdict.code = std::move(*code);
  return verdict;
}

}  // namespace devicelogin::oauth
