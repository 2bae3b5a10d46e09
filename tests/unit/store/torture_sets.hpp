#pragma once
// The two token sets the SIGKILL torture alternates between, shared by the saving helper
// (store_torture) and the test that loads after each kill. Every field differs between A and B,
// and the secrets are 2 KB of position-dependent text, so a torn or mixed write cannot pass for
// either set.
#include <string>
#include <vector>

#include "devicelogin/token_set.hpp"

namespace devicelogin::torture {

inline constexpr std::size_t kSecretSize = 2048;
inline constexpr long long kBaseTime = 4'000'000'000;  // far future: the keyring timeout stays long

// kSecretSize characters that depend on the set, the field and the position.
inline std::string pattern(char set, int field) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve(kSecretSize);
  out += set;
  out += static_cast<char>('0' + field);
  for (std::size_t i = out.size(); i < kSecretSize; ++i) {
    out += kAlphabet[(i * 7 + static_cast<std::size_t>(set) * 13 + static_cast<std::size_t>(field) * 29) % 64];
  }
  return out;
}

// Set `which` ('A' or 'B'), internally consistent: every field names its set.
inline TokenSet make_set(char which) {
  const long long offset = which == 'A' ? 0 : 1;
  TokenSet tokens;
  tokens.access_token = Secret(pattern(which, 1));
  tokens.token_type = which == 'A' ? "Bearer" : "DPoP";
  tokens.expires_at = kBaseTime + offset;
  tokens.refresh_token = Secret(pattern(which, 2));
  tokens.refresh_expires_at = kBaseTime + 100 + offset;
  tokens.id_token = Secret(pattern(which, 3));
  tokens.scope = std::string("scope-") + which;
  tokens.subject = std::string("subject-") + which;
  tokens.obtained_at = kBaseTime - 100 + offset;
  return tokens;
}

// The names of the fields of `loaded` that differ from set `which` (empty: it is that set).
inline std::vector<std::string> mismatches(const TokenSet& loaded, char which) {
  const TokenSet expected = make_set(which);
  std::vector<std::string> out;
  if (!loaded.access_token.equals(expected.access_token)) out.emplace_back("access_token");
  if (loaded.token_type != expected.token_type) out.emplace_back("token_type");
  if (loaded.expires_at != expected.expires_at) out.emplace_back("expires_at");
  if (!loaded.refresh_token.equals(expected.refresh_token)) out.emplace_back("refresh_token");
  if (loaded.refresh_expires_at != expected.refresh_expires_at) out.emplace_back("refresh_expires_at");
  // The ID token is given to save() but never kept (README "Where state is kept").
  if (!loaded.id_token.empty()) out.emplace_back("id_token (kept, should not be)");
  if (loaded.scope != expected.scope) out.emplace_back("scope");
  if (loaded.subject != expected.subject) out.emplace_back("subject");
  if (loaded.obtained_at != expected.obtained_at) out.emplace_back("obtained_at");
  return out;
}

}  // namespace devicelogin::torture
