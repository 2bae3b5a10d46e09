#pragma once
// SHA-256 (FIPS 180-4) without libcrypto, for the token hot path's audit record: the lean
// executable links core and store only, and a fingerprint there must not pull in OpenSSL.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace devicelogin::core {

// The 32-byte digest of `data`.
[[nodiscard]] std::array<std::uint8_t, 32> sha256(std::string_view data);
// The first `hex_digits` (<= 64) lower-case hex digits of sha256(data).
[[nodiscard]] std::string sha256_hex_prefix(std::string_view data, std::size_t hex_digits);

}  // namespace devicelogin::core
