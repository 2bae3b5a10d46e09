#include "devicelogin/advanced/error_builders.hpp"
#include "devicelogin/advanced/token_store.hpp"
#include "store/token_codec.hpp"

#include <cstdint>
#include <new>
#include <string_view>

#include "core/secret_json.hpp"

namespace devicelogin::store {
namespace {

// The document and everything nlohmann allocates for it (keys, values, dump()'s growing output,
// the parser's token buffer) is wiping storage: the set holds the access and refresh tokens.
using json = core::SecretJson;

// doc.dump(), without the copy it leaves behind: nlohmann's serializer escapes each string through
// a 512-byte buffer inside itself, and dump() keeps the serializer on the stack, where the escaped
// token stayed after the call (found by session_test's memory scan). Here the serializer lives in
// wiping storage, zeroed once it is destroyed. (nlohmann::detail: the interface dump() itself
// uses, in the pinned nlohmann 3.11.)
json::string_t dump_wiping(const json& doc) {
  using Serializer = nlohmann::detail::serializer<json>;
  json::string_t out;
  void* storage = SecretMemory::allocate(sizeof(Serializer));
  // Server text may hold invalid UTF-8: replace it rather than throw.
  auto* serializer = new (storage) Serializer(nlohmann::detail::output_adapter<char, json::string_t>(out), ' ',
                                              json::error_handler_t::replace);
  serializer->dump(doc, false, false, 0);
  serializer->~Serializer();
  SecretMemory::wipe_and_free(storage, sizeof(Serializer));
  return out;
}

}  // namespace

Secret encode_token_set(const TokenSet& tokens) {
  json doc = json::object();
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
  if (tokens.signed_in_at) doc["signed_in_at"] = *tokens.signed_in_at;
  if (!tokens.token_endpoint.empty()) doc["token_endpoint"] = tokens.token_endpoint;
  if (!tokens.client_id.empty()) doc["client_id"] = tokens.client_id;
  if (tokens.clock_offset_s) doc["clock_offset_s"] = *tokens.clock_offset_s;
  if (!tokens.refresh_refused.empty()) doc["refresh_refused"] = tokens.refresh_refused;
  if (!tokens.dpop_key.empty()) doc["dpop_key"] = tokens.dpop_key.reveal();
  return Secret(dump_wiping(doc));
}

Result<void> check_token_set_size(std::size_t size, const std::string& where) {
  if (size <= kMaxTokenSetBytes) return {};
  return fail(ErrorCode::kStorage, "cannot save to " + where + ": the token set takes " + std::to_string(size) +
                                       " bytes, more than the " + std::to_string(kMaxTokenSetBytes) +
                                       " a stored set may take");
}

}  // namespace devicelogin::store

namespace devicelogin {

Result<void> TokenStore::check_capacity(const std::string&) { return {}; }

Result<StoreUsage> TokenStore::usage(const std::string& profile) {
  auto loaded = load(profile);
  if (!loaded) return std::unexpected(loaded.error());
  StoreUsage usage;
  if (*loaded) usage.set_bytes = store::encode_token_set(**loaded).size();
  return usage;
}

}  // namespace devicelogin

namespace devicelogin::store {

Result<TokenSet> decode_token_set(std::string_view text) {
  auto parsed = core::parse_secret_json(text);
  if (!parsed || !parsed->is_object()) return fail(ErrorCode::kStorage, "the stored token set is not valid JSON");
  json& doc = *parsed;
  auto version = doc.find("version");
  if (version == doc.end() || !version->is_number_integer() || version->get<int>() != kTokenFormatVersion) {
    return fail(ErrorCode::kStorage, "the stored token set has an unknown format version");
  }
  // Views into the document's wiping strings (the text fields).
  auto string_of = [&](const char* name) -> std::optional<std::string_view> {
    auto it = doc.find(name);
    if (it == doc.end() || !it->is_string()) return std::nullopt;
    return std::string_view(it->get_ref<const json::string_t&>());
  };
  auto text_of = [&](const char* name, std::string_view fallback) { return std::string(string_of(name).value_or(fallback)); };
  // A secret's string taken out of the document into its Secret (its wiping buffer changes hands:
  // no second copy of the secret, and no second locked buffer); empty when absent or not a string.
  auto take_secret = [&](const char* name) {
    auto it = doc.find(name);
    if (it == doc.end() || !it->is_string()) return Secret(std::string_view{});
    return Secret(std::move(it->get_ref<json::string_t&>()));
  };
  TokenSet tokens;
  auto access_token = string_of("access_token");
  if (!access_token || access_token->empty()) return fail(ErrorCode::kStorage, "the stored token set has no access token");
  tokens.access_token = take_secret("access_token");
  tokens.token_type = text_of("token_type", "Bearer");
  if (auto it = doc.find("expires_at"); it != doc.end() && it->is_number_integer()) tokens.expires_at = it->get<long long>();
  tokens.refresh_token = take_secret("refresh_token");
  if (auto it = doc.find("refresh_expires_at"); it != doc.end() && it->is_number_integer()) {
    tokens.refresh_expires_at = it->get<long long>();
  }
  tokens.id_token = take_secret("id_token");
  tokens.scope = text_of("scope", "");
  tokens.subject = text_of("subject", "");
  if (auto it = doc.find("obtained_at"); it != doc.end() && it->is_number_integer()) tokens.obtained_at = it->get<long long>();
  if (auto it = doc.find("signed_in_at"); it != doc.end() && it->is_number_integer()) tokens.signed_in_at = it->get<long long>();
  tokens.token_endpoint = text_of("token_endpoint", "");
  tokens.client_id = text_of("client_id", "");
  // Only a plausible offset (within a day, as when it was learned) is taken back.
  if (auto it = doc.find("clock_offset_s"); it != doc.end() && it->is_number_integer() && !it->is_number_unsigned()) {
    if (long long offset = it->get<long long>(); offset >= -86400 && offset <= 86400) tokens.clock_offset_s = offset;
  } else if (it != doc.end() && it->is_number_unsigned() && it->get<std::uint64_t>() <= 86400) {
    tokens.clock_offset_s = static_cast<long long>(it->get<std::uint64_t>());
  }
  tokens.refresh_refused = text_of("refresh_refused", "");
  tokens.dpop_key = take_secret("dpop_key");
  return tokens;
}

}  // namespace devicelogin::store
