#include "user_code.hpp"

#include <cctype>

#include "jose.hpp"

namespace devicelogin::devserver {

namespace {

// RFC 8628 §6.1: 20 consonants, no vowels (no words) and no easily confused characters.
constexpr std::string_view kUserCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ";
constexpr std::size_t kUserCodeLength = 8;  // 20^8 ≈ 2^34.5 combinations

}  // namespace

std::optional<std::string> canonical_user_code(std::string_view input) {
  // RFC 8628 §6.1: compare case-insensitively and ignore the punctuation we add for display.
  std::string code;
  for (char c : input) {
    if (c == '-' || c == ' ' || c == '\t') continue;
    char upper = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (kUserCodeAlphabet.find(upper) == std::string_view::npos) return std::nullopt;
    code += upper;
    if (code.size() > kUserCodeLength) return std::nullopt;
  }
  if (code.size() != kUserCodeLength) return std::nullopt;
  return code;
}

Result<std::string> generate_user_code() {
  std::string code;
  while (code.size() < kUserCodeLength) {
    auto bytes = random_bytes(16);
    if (!bytes) return std::unexpected(bytes.error());
    for (unsigned char byte : *bytes) {
      // Rejection sampling keeps every letter equally likely (240 = 12 * 20).
      if (byte < 240 && code.size() < kUserCodeLength) code += kUserCodeAlphabet[byte % 20];
    }
  }
  return code;
}

}  // namespace devicelogin::devserver
