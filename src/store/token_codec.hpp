#pragma once
// The stored form of a TokenSet: one JSON object (versioned), shared by every store backend and
// by the `token` fast path.
#include <cstddef>
#include <optional>
#include <string>

#include "devicelogin/result.hpp"
#include "devicelogin/token_set.hpp"
#include "devicelogin/advanced/token_store.hpp"

namespace devicelogin::store {

inline constexpr int kTokenFormatVersion = 1;

// Serialises a token set. The returned text holds secrets: wipe it after use.
[[nodiscard]] Secret encode_token_set(const TokenSet& tokens);
// kStorage when an encoded set of `size` bytes is larger than kMaxTokenSetBytes (`where` names the
// store in the message).
[[nodiscard]] Result<void> check_token_set_size(std::size_t size, const std::string& where);
// A clock offset read back from a stored profile or set (`value`, kept unsigned by the JSON reader
// when `is_unsigned`): only a plausible one, within a day as when it was learned from `Date`.
[[nodiscard]] inline std::optional<long long> plausible_clock_offset(long long value, bool is_unsigned) {
  const bool plausible = is_unsigned ? static_cast<unsigned long long>(value) <= 86400 : value >= -86400 && value <= 86400;
  return plausible ? std::optional<long long>(value) : std::nullopt;
}
// Parses a stored token set; kStorage naming the problem when it is not one of ours.
[[nodiscard]] Result<TokenSet> decode_token_set(std::string_view text);

}  // namespace devicelogin
