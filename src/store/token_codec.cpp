#include "devicelogin/advanced/error_builders.hpp"
#include "devicelogin/advanced/token_store.hpp"
#include "store/token_codec.hpp"

#include <array>
#include <cstdint>
#include <new>
#include <string_view>

#include "core/json_reader.hpp"
#include "core/secret_json.hpp"
#include "store/audit.hpp"

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
  // Worked out from the token here, never taken from the field: it names this token.
  doc["access_token_id"] = audit_token_id(tokens.access_token);
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
  // core::JsonScanner rather than a document: this runs on `token`'s hot path, and a document of
  // the set (a map, each string allocated twice) cost a fifth of the run. The same texts refused.
  // Each known member's text is kept (the last of a repeated name counts) and decoded when read;
  // a secret goes from the text straight into its Secret (one copy, in locked wiping memory).
  // In the order encode_token_set's document writes them (sorted by name).
  static constexpr std::array<std::string_view, 17> kNames = {
      "access_token", "access_token_id", "client_id", "clock_offset_s", "dpop_key", "expires_at", "id_token",
      "obtained_at", "refresh_expires_at", "refresh_refused", "refresh_token", "scope", "signed_in_at",
      "subject", "token_endpoint", "token_type", "version"};
  core::MemberTexts members(kNames);
  const auto root = core::JsonScanner(text, core::ReadLimits{}.max_depth).scan([&](std::string_view name, std::string_view value) {
    members.take(name, value);
  });
  if (root != core::JsonScanner::Root::kObject) return fail(ErrorCode::kStorage, "the stored token set is not valid JSON");
  auto integer_of = [&](std::string_view name) { return core::integer_value(members.find(name)); };
  auto text_of = [&](std::string_view name, std::string_view fallback) {
    return core::string_value<std::string>(members.find(name)).value_or(std::string(fallback));
  };
  // A secret: empty when absent or not a string; decoded straight into wiping storage, whose
  // buffer the Secret takes over (and wipes the source of, when short).
  auto secret_of = [&](std::string_view name) {
    auto decoded = core::string_value<WipingString>(members.find(name));
    return decoded ? Secret(std::move(*decoded)) : Secret();
  };
  if (auto version = integer_of("version"); !version || version->value != kTokenFormatVersion) {
    return fail(ErrorCode::kStorage, "the stored token set has an unknown format version");
  }
  TokenSet tokens;
  tokens.access_token = secret_of("access_token");
  if (tokens.access_token.empty()) return fail(ErrorCode::kStorage, "the stored token set has no access token");
  tokens.token_type = text_of("token_type", "Bearer");
  if (auto expires = integer_of("expires_at")) tokens.expires_at = expires->value;
  tokens.refresh_token = secret_of("refresh_token");
  if (auto expires = integer_of("refresh_expires_at")) tokens.refresh_expires_at = expires->value;
  tokens.id_token = secret_of("id_token");
  tokens.scope = text_of("scope", "");
  tokens.subject = text_of("subject", "");
  if (auto at = integer_of("obtained_at")) tokens.obtained_at = at->value;
  if (auto at = integer_of("signed_in_at")) tokens.signed_in_at = at->value;
  tokens.token_endpoint = text_of("token_endpoint", "");
  tokens.client_id = text_of("client_id", "");
  if (auto offset = integer_of("clock_offset_s")) tokens.clock_offset_s = plausible_clock_offset(offset->value, offset->is_unsigned);
  tokens.refresh_refused = text_of("refresh_refused", "");
  tokens.dpop_key = secret_of("dpop_key");
  tokens.access_token_id = text_of("access_token_id", "");
  return tokens;
}

}  // namespace devicelogin::store
