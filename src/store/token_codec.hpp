#pragma once
// The stored form of a TokenSet: one JSON object (versioned), shared by every store backend and
// by the `token` fast path.
#include <string>

#include "devicelogin/result.hpp"
#include "devicelogin/token_set.hpp"

namespace devicelogin {

inline constexpr int kTokenFormatVersion = 1;

// Serialises a token set. The returned text holds secrets: wipe it after use.
[[nodiscard]] Secret encode_token_set(const TokenSet& tokens);
// Parses a stored token set; kStorage naming the problem when it is not one of ours.
[[nodiscard]] Result<TokenSet> decode_token_set(const std::string& text);

}  // namespace devicelogin
