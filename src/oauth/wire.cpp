#include "oauth/wire.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "core/encoding.hpp"
#include "core/secret_json.hpp"
#include "devicelogin/advanced/error_builders.hpp"
#include "devicelogin/sanitize.hpp"

namespace devicelogin::oauth {
namespace {

using json = nlohmann::json;

// A response body as a flat map of fields: a JSON object, or a form-encoded body (GitHub
// answers form-encoded unless asked for JSON). Nested JSON values stay available as JSON.
// The body holds tokens or a device code: it is read by parse_secret_json into a core::SecretJson, so
// that every buffer the tokens pass through is wiped when released (core/secret_json.hpp).
struct Fields {
  core::SecretJson object = core::SecretJson::object();
  bool parsed = false;

  [[nodiscard]] bool has(const char* name) const { return object.contains(name) && !object[name].is_null(); }
  // A view of a string field, valid while the Fields live: secrets are copied from it into a
  // Secret and nowhere else.
  [[nodiscard]] std::optional<std::string_view> view(const char* name) const {
    if (!has(name) || !object[name].is_string()) return std::nullopt;
    return std::string_view(object[name].get_ref<const core::SecretJson::string_t&>());
  }
  // A public field (token_type, scope, error, URIs) as a plain string.
  [[nodiscard]] std::optional<std::string> string(const char* name) const {
    auto value = view(name);
    if (!value) return std::nullopt;
    return std::string(*value);
  }
  // A non-negative integer given as a JSON number or a numeric string (some servers quote it).
  [[nodiscard]] std::optional<long long> integer(const char* name) const {
    if (!has(name)) return std::nullopt;
    const core::SecretJson& value = object[name];
    // Lifetimes are capped at ten years so that arithmetic on them cannot overflow.
    constexpr long long kMax = 10LL * 366 * 24 * 3600;
    if (value.is_number_unsigned()) return static_cast<long long>(std::min<std::uint64_t>(value.get<std::uint64_t>(), kMax));
    if (value.is_number_integer()) {
      auto v = value.get<long long>();
      return v >= 0 ? std::optional<long long>(std::min(v, kMax)) : std::nullopt;
    }
    if (value.is_number_float()) {
      double v = value.get<double>();
      if (v >= 0 && v < 1e12) return std::min(static_cast<long long>(v), kMax);
      return std::nullopt;
    }
    if (value.is_string()) {
      const auto& s = value.get_ref<const core::SecretJson::string_t&>();
      long long v = 0;
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (ec == std::errc{} && end == s.data() + s.size() && v >= 0) return std::min(v, 10LL * 366 * 24 * 3600);
    }
    return std::nullopt;
  }
};

Fields parse_fields(const Secret& body) {
  Fields fields;
  std::string_view text = body.reveal();
  if (auto parsed = core::parse_secret_json(text)) {
    if (parsed->is_object()) {
      fields.object = std::move(*parsed);
      fields.parsed = true;
    }
    return fields;
  }
  if (text.find('=') != std::string::npos && text.find('{') == std::string::npos) {
    for (auto& [name, value] : core::form_decode(text)) {
      fields.object[core::SecretJson::string_t(name)] = value;
      wipe_string(value);
    }
    fields.parsed = true;
  }
  return fields;
}

// RFC 6749 Appendix A.7: error = 1*NQSCHAR, NQSCHAR = %x20-21 / %x23-5B / %x5D-7E.
bool valid_error_code(std::string_view code) {
  return !code.empty() && std::all_of(code.begin(), code.end(), [](char ch) {
    auto c = static_cast<unsigned char>(ch);
    return c >= 0x20 && c <= 0x7E && c != 0x22 && c != 0x5C;
  });
}

// An OAuth error answer, or nullopt when the fields carry no valid error code (then the answer is
// malformed, not an error the protocol rules could act on; found by fuzz/token_reply_fuzzer.cpp: a
// code of control characters only was sanitized to an empty one).
std::optional<OAuthError> oauth_error_of(const Fields& fields) {
  auto error = fields.string("error");
  if (!error || !valid_error_code(*error)) return std::nullopt;
  OAuthError out;
  out.error = *error;
  out.description = sanitize_text(fields.string("error_description").value_or(""));
  out.interval = fields.integer("interval");
  if (fields.has("error_codes") && fields.object["error_codes"].is_array()) {
    for (const auto& code : fields.object["error_codes"]) {
      if (out.error_codes.size() == 8) break;  // Entra sends one or two
      if (code.is_number_integer()) out.error_codes.push_back(code.get<long long>());
    }
  }
  return out;
}

std::optional<long long> retry_after_seconds(const HttpResponse& response) {
  std::string value = response.header("retry-after");
  long long seconds = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec != std::errc{} || end != value.data() + value.size() || seconds < 0) return std::nullopt;
  return std::min<long long>(seconds, 3600);
}

}  // namespace

std::optional<std::string> unverified_jwt_claims_json(std::string_view token) {
  auto first = token.find('.');
  if (first == std::string_view::npos) return std::nullopt;
  auto second = token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  auto payload = core::base64url_decode(token.substr(first + 1, second - first - 1));
  if (!payload) return std::nullopt;
  json claims = json_nesting_within(*payload) ? json::parse(*payload, nullptr, false) : json(json::value_t::discarded);
  if (claims.is_discarded() || !claims.is_object()) return std::nullopt;
  return payload;
}

std::optional<Error> device_flow_blocked(const OAuthError& error, int http_status) {
  const bool entra_policy = std::find(error.error_codes.begin(), error.error_codes.end(), 53003) != error.error_codes.end() ||
                            error.description.starts_with("AADSTS53003:");
  std::string message;
  if (entra_policy) {
    message = "your administrator has turned off device-code sign-in for this app (a Conditional Access policy, "
              "AADSTS53003)";
  } else if (error.error == "device_flow_disabled") {
    message = "your administrator has turned off device-code sign-in for this app (the server answered "
              "device_flow_disabled)";
  } else if (error.error == "unauthorized_client" && error.error_codes.empty() &&
             !error.description.starts_with("AADSTS")) {
    message = "your administrator has not allowed device-code sign-in for this app (the server answered "
              "unauthorized_client)";
  } else {
    return std::nullopt;
  }
  Error blocked(ErrorCode::kProtocol, std::move(message), error.error, http_status);
  blocked.remedy = Remedy::kUseBrowserFlow;
  return blocked;
}

std::string describe_oauth_error(const OAuthError& error) {
  std::string out = "the server answered " + error.error;
  if (!error.description.empty()) out += ": " + error.description;
  return out;
}

Result<DeviceAuthorization> parse_device_authorization(const HttpResponse& response) {
  Fields fields = parse_fields(response.body);
  if (auto error = oauth_error_of(fields)) {
    if (auto blocked = device_flow_blocked(*error, response.status)) return std::unexpected(std::move(*blocked));
    return fail(ErrorCode::kProtocol, "device authorization refused: " + describe_oauth_error(*error),
                error->error, response.status);
  }
  if (response.status < 200 || response.status >= 300) {
    return fail(ErrorCode::kServer,
                "device authorization endpoint answered HTTP " + std::to_string(response.status), "",
                response.status);
  }
  if (!fields.parsed) {
    return fail(ErrorCode::kServer, "device authorization response is neither JSON nor form-encoded", "",
                response.status);
  }
  auto missing = [&](const char* field) {
    return fail(ErrorCode::kServer, std::string("device authorization response lacks ") + field, "",
                response.status);
  };
  DeviceAuthorization out;
  auto device_code = fields.view("device_code");
  if (!device_code || device_code->empty()) return missing("device_code");
  out.device_code = Secret(*device_code);
  auto user_code = fields.string("user_code");
  if (!user_code || sanitize_text(*user_code).empty()) return missing("user_code");
  out.user_code = sanitize_text(*user_code);
  // Google sends verification_url (its pre-RFC name).
  auto uri = fields.string("verification_uri");
  if (!uri) uri = fields.string("verification_url");
  if (!uri || sanitize_text(*uri).empty()) return missing("verification_uri");
  out.verification_uri = sanitize_text(*uri);
  auto complete = fields.string("verification_uri_complete");
  if (!complete) complete = fields.string("verification_url_complete");
  out.verification_uri_complete = sanitize_text(complete.value_or(""));
  out.message = sanitize_text(fields.string("message").value_or(""));
  auto expires_in = fields.integer("expires_in");
  if (!expires_in || *expires_in == 0) return missing("a positive expires_in");
  out.expires_in = std::min<long long>(*expires_in, 24 * 3600);  // a device code never needs more than a day
  // RFC 8628 §3.2: interval is optional, default 5. A zero would mean busy polling: use 5 too.
  auto interval = fields.integer("interval");
  out.interval = interval && *interval > 0 ? std::min<long long>(*interval, 3600) : 5;
  return out;
}

Result<TokenReply> parse_token_reply(const HttpResponse& response, long long now) {
  TokenReply reply;
  reply.http_status = response.status;
  if (response.status >= 500 || response.status == 429) {
    // RFC 8628 §3.5: a slow_down is a slow_down whatever status carries it (some servers use 429).
    Fields fields = parse_fields(response.body);
    if (auto error = oauth_error_of(fields); error && error->error == "slow_down") {
      reply.kind = TokenReply::Kind::kError;
      reply.error = std::move(*error);
      return reply;
    }
    reply.kind = TokenReply::Kind::kTransient;
    reply.retry_after = retry_after_seconds(response);
    return reply;
  }
  if (response.status >= 300 && response.status < 400) {
    return fail(ErrorCode::kServer,
                "token endpoint answered with a redirect (HTTP " + std::to_string(response.status) +
                    "); redirects are never followed for credential requests",
                "", response.status);
  }
  Fields fields = parse_fields(response.body);
  if (auto error = oauth_error_of(fields)) {
    reply.kind = TokenReply::Kind::kError;
    reply.error = std::move(*error);
    return reply;
  }
  if (response.status != 200 && response.status != 201) {
    // WorkOS answers the poll for a user of several organizations with a 403 whose `code` says
    // so, with a pending_authentication_token that only a confidential client may
    // exchange (organization-selection grant, with the client secret): named, never kept or shown.
    if (auto code = fields.string("code"); code && *code == "organization_selection_required") {
      return fail(ErrorCode::kAccessDenied,
                  "the user belongs to more than one WorkOS organization and WorkOS asks the application to choose "
                  "one (organization_selection_required), which a device login cannot do; sign in as a user of a "
                  "single organization, or ask the application's administrator to limit this sign-in to one",
                  "organization_selection_required", response.status);
    }
    // A bare 401 that asks for Basic authentication is about the client's own credentials (RFC
    // 6749 §5.2 would have said invalid_client): a configuration matter, which a new sign-in would
    // not change.
    if (response.status == 401 && core::ascii_lower(response.header("www-authenticate")).starts_with("basic")) {
      return fail(ErrorCode::kConfig,
                  "the token endpoint refused the client's credentials (HTTP 401 asking for Basic authentication)", "",
                  response.status);
    }
    return fail(ErrorCode::kServer,
                "token endpoint answered HTTP " + std::to_string(response.status) + " without an OAuth error",
                "", response.status);
  }
  auto access_token = fields.view("access_token");
  if (!access_token || access_token->empty()) {
    return fail(ErrorCode::kServer, "token response lacks access_token", "", response.status);
  }
  // RFC 6749 Appendix A: tokens are VSCHAR strings (printable ASCII). Anything else is refused
  // before it reaches a terminal, a header or the store.
  for (const char* name : {"access_token", "refresh_token", "id_token"}) {
    auto value = fields.view(name);
    if (value && !std::all_of(value->begin(), value->end(), [](char c) { return c >= 0x20 && c <= 0x7E; })) {
      return fail(ErrorCode::kServer, std::string("token response has a malformed ") + name, "", response.status);
    }
  }
  reply.kind = TokenReply::Kind::kTokens;
  TokenSet& tokens = reply.tokens;
  tokens.access_token = Secret(*access_token);
  tokens.token_type = sanitize_text(fields.string("token_type").value_or("Bearer"));
  if (tokens.token_type.empty()) tokens.token_type = "Bearer";
  tokens.refresh_token = Secret(fields.view("refresh_token").value_or(""));
  tokens.id_token = Secret(fields.view("id_token").value_or(""));
  tokens.scope = sanitize_text(fields.string("scope").value_or(""));
  tokens.obtained_at = now;
  if (auto expires_in = fields.integer("expires_in")) {
    tokens.expires_at = now + *expires_in;
  }
  // GitHub (expiring user tokens) and some others say when the refresh token dies.
  if (auto refresh_expires_in = fields.integer("refresh_token_expires_in"); refresh_expires_in && !tokens.refresh_token.empty()) {
    tokens.refresh_expires_at = now + *refresh_expires_in;
  }
  // The access token's own claims (a JWT access token, RFC 9068) give `exp` when the response
  // has no expires_in (WorkOS), and a subject when there is no ID token.
  if (auto claims_text = unverified_jwt_claims_json(tokens.access_token.reveal())) {
    json claims = json_nesting_within(*claims_text) ? json::parse(*claims_text, nullptr, false) : json(json::value_t::discarded);
    wipe_string(*claims_text);
    if (!tokens.expires_at && claims.contains("exp") && claims["exp"].is_number_integer() &&
        !claims["exp"].is_number_unsigned()) {
      tokens.expires_at = claims["exp"].get<long long>();
    } else if (!tokens.expires_at && claims.contains("exp") && claims["exp"].is_number_unsigned()) {
      tokens.expires_at = static_cast<long long>(std::min<std::uint64_t>(claims["exp"].get<std::uint64_t>(), 1ULL << 40));
    }
    reply.expires_at_from_jwt = !fields.integer("expires_in") && tokens.expires_at.has_value();
    if (claims.contains("sub") && claims["sub"].is_string()) {
      tokens.subject = sanitize_text(claims["sub"].get<std::string>());
    }
  }
  if (auto claims_text = unverified_jwt_claims_json(tokens.id_token.reveal())) {
    json claims = json_nesting_within(*claims_text) ? json::parse(*claims_text, nullptr, false) : json(json::value_t::discarded);
    if (claims.contains("sub") && claims["sub"].is_string()) {
      tokens.subject = sanitize_text(claims["sub"].get<std::string>());
    }
  }
  return reply;
}

std::string PublicDocument::header(std::string_view name) const {
  const std::string wanted = core::ascii_lower(name);
  for (const auto& [header_name, value] : headers) {
    if (core::ascii_lower(header_name) == wanted) return value;
  }
  return {};
}

Result<PublicDocument> get_json(HttpClient& http, const std::string& url) {
  HttpRequest request;
  request.method = "GET";
  request.url = url;
  request.headers = {{"Accept", "application/json"}};
  auto response = http.send(request);
  if (!response) return std::unexpected(std::move(response.error()));
  PublicDocument document;
  document.status = response->status;
  document.headers = std::move(response->headers);
  // The one place a public document leaves the Secret every response arrives in.
  document.body = std::string(response->body.reveal());
  return document;
}

}  // namespace devicelogin::oauth
