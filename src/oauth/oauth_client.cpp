#include "oauth/oauth_client.hpp"

#include <nlohmann/json.hpp>

#include "core/encoding.hpp"
#include "core/fs.hpp"
#include "devicelogin/advanced/error_builders.hpp"
#include "devicelogin/sanitize.hpp"
#include "oauth/providers.hpp"
#include "oauth/wire.hpp"

namespace devicelogin::oauth {
namespace {

// Trims one trailing newline (files written by `echo`) without touching other whitespace.
void trim_line_end(std::string& text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
}

}  // namespace

Result<Secret> read_client_secret(const Profile& profile) {
  if (!profile.client_secret_file.empty()) {
    auto content = core::read_private_file(profile.client_secret_file, "client secret file");
    if (!content) return std::unexpected(content.error());
    if (!*content) {
      return fail(ErrorCode::kConfig, "client secret file " + profile.client_secret_file + " does not exist");
    }
    std::string text = std::move(**content);
    trim_line_end(text);
    if (text.empty()) return fail(ErrorCode::kConfig, "client secret file " + profile.client_secret_file + " is empty");
    return Secret(std::move(text));
  }
  if (!profile.client_secret_env.empty()) {
    std::string value = core::env_or_empty(profile.client_secret_env.c_str());
    if (value.empty()) {
      return fail(ErrorCode::kConfig, "the client secret variable " + profile.client_secret_env +
                                          " is not set (this profile was created with it)");
    }
    return Secret(std::move(value));
  }
  return Secret{};
}

Result<HttpRequest> OAuthClient::form_request(const std::string& url, std::string_view what, core::FormFields fields) {
  if (url.empty()) return fail(ErrorCode::kConfig, "the profile has no " + std::string(what));
  if (auto policy = check_url_policy(url, what); !policy) return std::unexpected(policy.error());
  auto secret = read_client_secret(profile_);
  if (!secret) return std::unexpected(secret.error());
  if (secret->empty() && quirks_for(profile_.provider).requires_client_secret) {
    return std::unexpected(remedy_error(ErrorCode::kConfig, profile_.provider + " requires a client secret", Remedy::kAddSettings, profile_.name, "client_secret_file|client_secret_env"));
  }
  HttpRequest request;
  request.method = "POST";
  request.url = url;
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded"}, {"Accept", "application/json"}};
  if (!secret->empty() && profile_.client_auth == ClientAuth::kBasic) {
    // RFC 6749 §2.3.1: client id and secret are encoded with the application/x-www-form-urlencoded
    // algorithm of Appendix B (a space becomes '+') before base64.
    std::string encoded_secret = core::form_urlencode_value(secret->reveal());
    std::string credentials = core::form_urlencode_value(profile_.client_id) + ":" + encoded_secret;
    wipe_string(encoded_secret);
    request.headers.emplace_back("Authorization", "Basic " + core::base64_encode(credentials));
    wipe_string(credentials);
  } else {
    fields.emplace_back("client_id", profile_.client_id);
    if (!secret->empty()) fields.emplace_back("client_secret", std::string(secret->reveal()));
  }
  request.body = core::form_encode_secret(fields);
  // The field values are plain strings holding the device code, refresh token or client secret.
  for (auto& field : fields) wipe_string(field.second);
  return request;
}

Result<DeviceAuthorization> OAuthClient::request_device_code() {
  core::FormFields fields;
  if (!profile_.scope.empty()) fields.emplace_back("scope", profile_.scope);
  if (!profile_.audience.empty()) fields.emplace_back("audience", profile_.audience);
  auto request = form_request(profile_.endpoints.device_authorization, "device authorization endpoint", std::move(fields));
  if (!request) return std::unexpected(request.error());
  auto response = http_.send(*request);
  if (!response) return std::unexpected(response.error());
  return parse_device_authorization(*response);
}

Result<HttpResponse> OAuthClient::send_with_dpop(const HttpRequest& request) {
  for (int attempt = 0;; ++attempt) {
    const std::optional<std::string> nonce = dpop_nonces_->nonce_for(request.url);
    // RFC 9449 §4.2: iat on the server's clock, so that a local clock that is off does not make
    // every proof look stale or from the future.
    auto proof = make_dpop_proof(*dpop_key_, DpopProofRequest{request.method, request.url, server_now_(), nullptr,
                                                             nonce ? std::string_view(*nonce) : std::string_view()});
    if (!proof) return std::unexpected(proof.error());
    HttpRequest signed_request = request;
    // Sized once so that no reallocation leaves a copy of the proof, wiped below.
    std::string header;
    header.reserve(proof->size());
    header.append(proof->reveal());
    signed_request.headers.emplace_back("DPoP", std::move(header));
    auto response = http_.send(signed_request);
    for (auto& [name, value] : signed_request.headers) wipe_string(value);
    if (!response) return response;
    // RFC 9449 §8.2: any answer may carry the next nonce; a malformed one is ignored here (a retry
    // that needs it reports it below).
    (void)dpop_nonces_->update(request.url, *response);
    if (attempt > 0) return response;
    // §8: a 400 use_dpop_nonce asks for the same request again, with the nonce it gives.
    auto retry = dpop_nonce_to_retry_with(*response);
    if (!retry) return std::unexpected(retry.error());
    if (!*retry) return response;
    if (auto remembered = dpop_nonces_->remember(request.url, **retry); !remembered) {
      return std::unexpected(remembered.error());
    }
  }
}

Result<TokenReply> OAuthClient::token_request(core::FormFields fields, long long now) {
  auto request = form_request(profile_.endpoints.token, "token endpoint", std::move(fields));
  if (!request) return std::unexpected(request.error());
  auto response = dpop_key_ != nullptr ? send_with_dpop(*request) : http_.send(*request);
  if (!response) return std::unexpected(response.error());
  auto reply = parse_token_reply(*response, now);
  // RFC 9449 §5: a server that issued a Bearer token to a request with a proof did not bind it;
  // taking it silently would leave a token that works without the key.
  if (dpop_key_ != nullptr && reply && reply->kind == TokenReply::Kind::kTokens &&
      core::ascii_lower(reply->tokens.token_type) != "dpop") {
    const std::string type = reply->tokens.token_type.empty() ? std::string("Bearer") : sanitize_text(reply->tokens.token_type.substr(0, 32));
    // Nobody will hold them: a live unbound token would be just what DPoP is there to prevent.
    return fail(ErrorCode::kServer, "the server answered a DPoP request with a " + type +
                                        " token (not bound to the key); " + revoke_unbound(reply->tokens));
  }
  return reply;
}

Result<TokenReply> OAuthClient::poll_token(const Secret& device_code, long long now) {
  // RFC 8628 §3.4.
  auto reply =
      token_request({{"grant_type", std::string(kDeviceCodeGrant)}, {"device_code", std::string(device_code.reveal())}}, now);
  // Entra evaluates Conditional Access when the user signs in, so its block arrives here, as an
  // answer to a poll; it ends the login like any refusal, but named, with its way out.
  if (reply && reply->kind == TokenReply::Kind::kError) {
    if (auto blocked = device_flow_blocked(reply->error, reply->http_status)) return std::unexpected(std::move(*blocked));
  }
  return reply;
}

Result<TokenReply> OAuthClient::exchange_code(const Secret& code, const Secret& code_verifier,
                                              const std::string& redirect_uri, long long now) {
  return token_request({{"grant_type", "authorization_code"},
                        {"code", std::string(code.reveal())},
                        {"redirect_uri", redirect_uri},
                        {"code_verifier", std::string(code_verifier.reveal())}},
                       now);
}

Result<TokenReply> OAuthClient::refresh(const Secret& refresh_token, long long now) {
  // RFC 6749 §6. The scope is omitted: the server then grants the original scope.
  return token_request({{"grant_type", "refresh_token"}, {"refresh_token", std::string(refresh_token.reveal())}}, now);
}

std::string OAuthClient::revoke_unbound(const TokenSet& tokens) {
  if (profile_.endpoints.revocation.empty()) return "its tokens could not be revoked (the server has no revocation endpoint)";
  std::string problem;
  // The refresh token first: on most servers it ends the grant's access tokens too.
  for (const auto& [token, hint] : {std::pair<const Secret*, std::string_view>{&tokens.refresh_token, "refresh_token"},
                                    std::pair<const Secret*, std::string_view>{&tokens.access_token, "access_token"}}) {
    if (token->empty()) continue;
    // Unbound tokens are revoked as the bearer tokens they are.
    if (auto revoked = revoke_one(*token, hint, false); !revoked && problem.empty()) problem = revoked.error().message;
  }
  if (!problem.empty()) return "its tokens could not be revoked (" + problem + ")";
  return "its tokens were revoked at the server";
}

Result<void> OAuthClient::revoke(const Secret& token, std::string_view token_type_hint) {
  return revoke_one(token, token_type_hint, true);
}

Result<void> OAuthClient::revoke_one(const Secret& token, std::string_view token_type_hint, bool with_proof) {
  if (profile_.endpoints.revocation.empty()) {
    return fail(ErrorCode::kConfig, "the server has no revocation endpoint");
  }
  auto request = form_request(profile_.endpoints.revocation, "revocation endpoint",
                              {{"token", std::string(token.reveal())}, {"token_type_hint", std::string(token_type_hint)}});
  if (!request) return std::unexpected(request.error());
  auto response = with_proof && dpop_key_ != nullptr ? send_with_dpop(*request) : http_.send(*request);
  if (!response) return std::unexpected(response.error());
  // RFC 7009 §2.2: 200 means revoked (or already invalid); anything else is a failure.
  if (response->status == 200) return {};
  auto reply = parse_token_reply(*response, 0);
  if (reply && reply->kind == TokenReply::Kind::kError) {
    return fail(ErrorCode::kProtocol, "revocation refused: " + describe_oauth_error(reply->error),
                reply->error.error, response->status);
  }
  return fail(ErrorCode::kServer, "revocation endpoint answered HTTP " + std::to_string(response->status), "",
              response->status);
}

Result<void> OAuthClient::end_session(const Secret& access_token) {
  const std::string_view path = quirks_for(profile_.provider).session_logout_path;
  if (path.empty()) return fail(ErrorCode::kConfig, "the server has no session logout");
  // The session id is a claim of the (JWT) access token; it names the session, it is no credential.
  std::string sid;
  if (auto claims_text = unverified_jwt_claims_json(access_token.reveal())) {
    const nlohmann::json claims =
        json_nesting_within(*claims_text) ? nlohmann::json::parse(*claims_text, nullptr, false) : nlohmann::json();
    wipe_string(*claims_text);
    if (claims.is_object() && claims.contains("sid") && claims["sid"].is_string()) sid = claims["sid"].get<std::string>();
  }
  if (sid.empty()) return fail(ErrorCode::kConfig, "the access token names no session (no sid claim) to log out");
  // The token endpoint's origin: the preset's https://api.workos.com, or the one a profile set
  // (an emulator on loopback).
  const std::string& token_endpoint = profile_.endpoints.token;
  const std::size_t scheme_end = token_endpoint.find("://");
  if (scheme_end == std::string::npos) return fail(ErrorCode::kConfig, "the profile has no token endpoint");
  const std::string origin = token_endpoint.substr(0, token_endpoint.find('/', scheme_end + 3));
  HttpRequest request;
  request.method = "GET";
  request.url = origin + std::string(path) + "?session_id=" + core::url_encode(sid);
  if (auto policy = check_url_policy(request.url, "session logout endpoint"); !policy) return std::unexpected(policy.error());
  auto response = http_.send(request);
  if (!response) return std::unexpected(response.error());
  if (response->status >= 200 && response->status < 400) return {};
  return fail(ErrorCode::kServer, "session logout answered HTTP " + std::to_string(response->status), "",
              response->status);
}

}  // namespace devicelogin::oauth
