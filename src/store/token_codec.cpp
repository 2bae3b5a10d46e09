#include "store/token_codec.hpp"

#include <cstdint>
#include <nlohmann/json.hpp>

#include "core/json_wipe.hpp"

namespace devicelogin {
namespace {

using json = nlohmann::json;

}  // namespace

Secret encode_token_set(const TokenSet& tokens) {
  json doc = json::object();
  JsonWiper<json> wiper{doc};
  doc["version"] = kTokenFormatVersion;
  doc["access_token"] = tokens.access_token.reveal();
  doc["token_type"] = tokens.token_type;
  doc["expires_at"] = tokens.expires_at ? json(*tokens.expires_at) : json(nullptr);
  if (!tokens.refresh_token.empty()) doc["refresh_token"] = tokens.refresh_token.reveal();
  if (tokens.refresh_expires_at) doc["refresh_expires_at"] = *tokens.refresh_expires_at;
  // The ID token is not kept: it was verified at login (and at each refresh that returns one),
  // its `sub` is kept as `subject`, and no later call sends it anywhere.
  doc["scope"] = tokens.scope;
  doc["subject"] = tokens.subject;
  doc["obtained_at"] = tokens.obtained_at;
  if (!tokens.token_endpoint.empty()) doc["token_endpoint"] = tokens.token_endpoint;
  if (!tokens.client_id.empty()) doc["client_id"] = tokens.client_id;
  if (tokens.clock_offset_s) doc["clock_offset_s"] = *tokens.clock_offset_s;
  // Server text may hold invalid UTF-8: replace it rather than throw.
  return Secret(doc.dump(-1, ' ', false, json::error_handler_t::replace));
}

Result<void> check_token_set_size(std::size_t size, const std::string& where) {
  if (size <= kMaxTokenSetBytes) return {};
  return fail(ErrorCode::kStorage, "cannot save to " + where + ": the token set takes " + std::to_string(size) +
                                       " bytes, more than the " + std::to_string(kMaxTokenSetBytes) +
                                       " a stored set may take");
}

Result<void> TokenStore::check_capacity(const std::string&) { return {}; }

Result<StoreUsage> TokenStore::usage(const std::string& profile) {
  auto loaded = load(profile);
  if (!loaded) return std::unexpected(loaded.error());
  StoreUsage usage;
  if (*loaded) usage.set_bytes = encode_token_set(**loaded).size();
  return usage;
}

Result<TokenSet> decode_token_set(std::string_view text) {
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return fail(ErrorCode::kStorage, "the stored token set is not valid JSON");
  JsonWiper<json> wiper{doc};
  auto version = doc.find("version");
  if (version == doc.end() || !version->is_number_integer() || version->get<int>() != kTokenFormatVersion) {
    return fail(ErrorCode::kStorage, "the stored token set has an unknown format version");
  }
  auto string_of = [&](const char* name) -> std::optional<std::string> {
    auto it = doc.find(name);
    if (it == doc.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  TokenSet tokens;
  auto access_token = string_of("access_token");
  if (!access_token || access_token->empty()) return fail(ErrorCode::kStorage, "the stored token set has no access token");
  tokens.access_token = Secret(std::move(*access_token));
  tokens.token_type = string_of("token_type").value_or("Bearer");
  if (auto it = doc.find("expires_at"); it != doc.end() && it->is_number_integer()) tokens.expires_at = it->get<long long>();
  tokens.refresh_token = Secret(string_of("refresh_token").value_or(""));
  if (auto it = doc.find("refresh_expires_at"); it != doc.end() && it->is_number_integer()) {
    tokens.refresh_expires_at = it->get<long long>();
  }
  tokens.id_token = Secret(string_of("id_token").value_or(""));
  tokens.scope = string_of("scope").value_or("");
  tokens.subject = string_of("subject").value_or("");
  if (auto it = doc.find("obtained_at"); it != doc.end() && it->is_number_integer()) tokens.obtained_at = it->get<long long>();
  tokens.token_endpoint = string_of("token_endpoint").value_or("");
  tokens.client_id = string_of("client_id").value_or("");
  // Only a plausible offset (within a day, as when it was learned) is taken back.
  if (auto it = doc.find("clock_offset_s"); it != doc.end() && it->is_number_integer() && !it->is_number_unsigned()) {
    if (long long offset = it->get<long long>(); offset >= -86400 && offset <= 86400) tokens.clock_offset_s = offset;
  } else if (it != doc.end() && it->is_number_unsigned() && it->get<std::uint64_t>() <= 86400) {
    tokens.clock_offset_s = static_cast<long long>(it->get<std::uint64_t>());
  }
  return tokens;
}

}  // namespace devicelogin
