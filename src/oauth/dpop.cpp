#include "oauth/dpop.hpp"
#include "oauth/openssl_ptr.hpp"

#include <dlfcn.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <sodium.h>
#include <sys/random.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <nlohmann/json.hpp>
#include <span>

#include "core/encoding.hpp"
#include "core/secret_json.hpp"
#include "devicelogin/advanced/error_builders.hpp"
#include "devicelogin/sanitize.hpp"

namespace devicelogin::oauth {
namespace {

// Private scalars are among the numbers held: cleared before they are freed.
using BignumPtr = std::unique_ptr<BIGNUM, OpensslDeleter<BN_clear_free>>;

constexpr std::size_t kP256CoordinateBytes = 32;  // RFC 7518 §6.2.1.2: the full coordinate size
constexpr std::size_t kEd25519KeyBytes = 32;      // RFC 8037 §2
constexpr std::size_t kJtiBytes = 16;             // RFC 9449 §11.1: enough entropy that jti never repeats

std::unexpected<Error> openssl_failure(std::string what) {
  ERR_clear_error();
  return fail(ErrorCode::kInternal, "OpenSSL could not " + std::move(what));
}

// A stored key the loader cannot use: only a new login makes a new one.
std::unexpected<Error> damaged_key(std::string what) {
  ERR_clear_error();
  return std::unexpected(with_remedy(Error(ErrorCode::kReloginRequired, "the stored DPoP key " + std::move(what)),
                                     Remedy::kSignIn));
}

constexpr char kBase64UrlAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// base64url without padding (RFC 7515 §2), appended to wiping storage: used for private key bytes.
void append_base64url(WipingString& out, std::string_view bytes) {
  std::size_t i = 0;
  auto at = [&](std::size_t k) { return static_cast<unsigned>(static_cast<unsigned char>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    const unsigned group = (at(i) << 16) | (at(i + 1) << 8) | at(i + 2);
    for (int shift = 18; shift >= 0; shift -= 6) out.push_back(kBase64UrlAlphabet[(group >> shift) & 0x3F]);
  }
  if (bytes.size() - i == 1) {
    const unsigned group = at(i) << 16;
    out.push_back(kBase64UrlAlphabet[(group >> 18) & 0x3F]);
    out.push_back(kBase64UrlAlphabet[(group >> 12) & 0x3F]);
  } else if (bytes.size() - i == 2) {
    const unsigned group = (at(i) << 16) | (at(i + 1) << 8);
    out.push_back(kBase64UrlAlphabet[(group >> 18) & 0x3F]);
    out.push_back(kBase64UrlAlphabet[(group >> 12) & 0x3F]);
    out.push_back(kBase64UrlAlphabet[(group >> 6) & 0x3F]);
  }
}

std::string base64url(std::string_view bytes) {
  WipingString out;
  append_base64url(out, bytes);
  return std::string(out);
}

// Strict base64url without padding into wiping storage: exactly `size` bytes, and the canonical
// encoding of them (no stray bits), or nullopt.
std::optional<WipingString> decode_exact_base64url(std::string_view text, std::size_t size) {
  if (text.size() != (size * 4 + 2) / 3) return std::nullopt;
  WipingString out;
  out.reserve(size);
  unsigned buffer = 0;
  int bits = 0;
  for (char c : text) {
    const char* found = std::char_traits<char>::find(kBase64UrlAlphabet, 64, c);
    if (found == nullptr) return std::nullopt;
    buffer = ((buffer << 6) | static_cast<unsigned>(found - kBase64UrlAlphabet)) & 0xFFFF;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  if ((buffer & ((1u << bits) - 1)) != 0) return std::nullopt;  // RFC 4648 §3.5: leftover bits are zero
  buffer = 0;
  return out;
}

// `out` filled from the kernel's random number generator (getrandom(2), which waits only until it
// is first seeded at boot): what OpenSSL's own generator seeds itself from, without the cost of
// setting that generator up in each short-lived process (about 3 million instructions, most of
// what a proof added to `api` with an EdDSA key, which needs no other randomness). False when the
// kernel gives none.
bool fill_random(std::span<unsigned char> out) {
  std::size_t filled = 0;
  while (filled < out.size()) {
    const ssize_t got = ::getrandom(out.data() + filled, out.size() - filled, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    filled += static_cast<std::size_t>(got);
  }
  return true;
}

// libsodium's Ed25519 and SHA-256, for a process that signs with an EdDSA key: OpenSSL 3's first
// algorithm fetch in a process fills its name map from every legacy algorithm name and builds its
// method tables (about 4 million instructions, several times a proof), and a CLI process pays it
// on every run; libsodium has no such set-up. Loaded on first use (dlopen, its symbols local)
// rather than linked: as a dependency it would sit in the symbol search scope of every CLI
// process, whose dynamic loader look-ups of every other library's symbols would all pass it
// (0.9 million instructions more at each start, DPoP or not). Without libsodium (or with it
// disabled for a test) OpenSSL does the same work: the same keys, signatures and digests.
struct Sodium {
  decltype(&::sodium_init) init = nullptr;
  decltype(&::crypto_sign_keypair) sign_keypair = nullptr;
  decltype(&::crypto_sign_seed_keypair) sign_seed_keypair = nullptr;
  decltype(&::crypto_sign_detached) sign_detached = nullptr;
  decltype(&::crypto_hash_sha256) hash_sha256 = nullptr;
};

// libsodium's soname since 1.0.12 (2017); another one means OpenSSL does the work.
constexpr char kSodiumLibrary[] = "libsodium.so.23";
std::atomic<bool> sodium_loaded{false};
std::atomic<bool> sodium_disabled{false};

std::optional<Sodium> load_sodium() {
  void* library = ::dlopen(kSodiumLibrary, RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) return std::nullopt;
  Sodium sodium;
  auto bind = [library](auto& function, const char* name) {
    function = reinterpret_cast<std::remove_reference_t<decltype(function)>>(::dlsym(library, name));
    return function != nullptr;
  };
  if (!bind(sodium.init, "sodium_init") || !bind(sodium.sign_keypair, "crypto_sign_keypair") ||
      !bind(sodium.sign_seed_keypair, "crypto_sign_seed_keypair") ||
      !bind(sodium.sign_detached, "crypto_sign_detached") || !bind(sodium.hash_sha256, "crypto_hash_sha256") ||
      sodium.init() < 0) {
    ::dlclose(library);
    return std::nullopt;
  }
  return sodium;  // kept for the life of the process
}

// libsodium, loaded on the first call; nullptr when it is not installed.
const Sodium* sodium_library() {
  static const std::optional<Sodium> loaded = [] {
    auto sodium = load_sodium();
    sodium_loaded.store(sodium.has_value());
    return sodium;
  }();
  return loaded ? &*loaded : nullptr;
}

// libsodium for new work: nullptr when it is not installed or disabled (a key it holds keeps
// signing with it: sodium_library()).
const Sodium* sodium() { return sodium_disabled.load() ? nullptr : sodium_library(); }

std::string sha256(std::string_view bytes) {
  std::array<unsigned char, 32> digest{};
  // libsodium's when an EdDSA key loaded it, so that such a process never sets OpenSSL up (its
  // state is wiped when done: the input may be an access token); OpenSSL's otherwise, which an
  // ES256 key's process has set up anyway.
  if (sodium_loaded.load() && !sodium_disabled.load()) {
    const auto* input = reinterpret_cast<const unsigned char*>(bytes.data());
    if (sodium_library()->hash_sha256(digest.data(), input, bytes.size()) == 0) {
      return std::string(reinterpret_cast<const char*>(digest.data()), digest.size());
    }
  }
  unsigned int size = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1 || size != digest.size()) {
    // SHA-256 from the default provider does not fail on valid input; a failure is a broken
    // OpenSSL installation, and an empty hash can never match anything the server computes.
    ERR_clear_error();
    return {};
  }
  return std::string(reinterpret_cast<const char*>(digest.data()), digest.size());
}

// libsodium's secret key (RFC 8032 §5.1.5: the 32-byte seed, then the public key) in wiping
// storage, and its public JWK; the caller's copy is wiped.
std::pair<Secret, DpopPublicJwk> sodium_ed25519_pair(std::array<unsigned char, crypto_sign_SECRETKEYBYTES>& secret_key) {
  WipingString held(reinterpret_cast<const char*>(secret_key.data()), secret_key.size());
  explicit_bzero(secret_key.data(), secret_key.size());
  DpopPublicJwk jwk;
  jwk.kty = "OKP";
  jwk.crv = "Ed25519";
  jwk.x = base64url(std::string_view(held).substr(crypto_sign_SEEDBYTES, crypto_sign_PUBLICKEYBYTES));
  return {Secret(std::move(held)), std::move(jwk)};
}

// A BIGNUM as exactly `size` big-endian bytes, in wiping storage.
std::optional<WipingString> padded_bytes(const BIGNUM* number, std::size_t size) {
  WipingString out(size, '\0');
  if (BN_bn2binpad(number, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(size)) != static_cast<int>(size)) {
    return std::nullopt;
  }
  return out;
}

Result<DpopPublicJwk> public_jwk_of(EVP_PKEY* pkey, DpopAlgorithm algorithm) {
  DpopPublicJwk jwk;
  if (algorithm == DpopAlgorithm::kEdDsa) {
    std::array<unsigned char, kEd25519KeyBytes> raw{};
    std::size_t size = raw.size();
    if (EVP_PKEY_get_raw_public_key(pkey, raw.data(), &size) != 1 || size != raw.size()) {
      return openssl_failure("export the Ed25519 public key");
    }
    jwk.kty = "OKP";
    jwk.crv = "Ed25519";
    jwk.x = base64url(std::string_view(reinterpret_cast<const char*>(raw.data()), raw.size()));
    return jwk;
  }
  BIGNUM* x_raw = nullptr;
  BIGNUM* y_raw = nullptr;
  const bool got_x = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x_raw) == 1;
  BignumPtr x(x_raw);
  const bool got_y = got_x && EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y_raw) == 1;
  BignumPtr y(y_raw);
  if (!got_y) return openssl_failure("export the P-256 public key");
  auto x_bytes = padded_bytes(x.get(), kP256CoordinateBytes);
  auto y_bytes = padded_bytes(y.get(), kP256CoordinateBytes);
  if (!x_bytes || !y_bytes) return openssl_failure("export the P-256 public key");
  jwk.kty = "EC";
  jwk.crv = "P-256";
  jwk.x = base64url(*x_bytes);
  jwk.y = base64url(*y_bytes);
  return jwk;
}

// RFC 9110 §5.6.2 tchar.
bool is_tchar(char c) {
  if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_hex_digit(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

char upper_ascii(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }
char lower_ascii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// RFC 3986 §2.3 unreserved.
bool is_unreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
         c == '~';
}

// RFC 3986 §2: the characters a URI may hold (unreserved, reserved, and '%' of an encoding).
bool is_uri_char(char c) {
  return is_unreserved(c) || std::string_view(":/?#[]@!$&'()*+,;=%").find(c) != std::string_view::npos;
}

// Whether every '%' in `text` starts a percent-encoding (RFC 3986 §2.1: "%" HEXDIG HEXDIG). A lone
// '%' is refused rather than kept: decoding "%%41" to "%A" would make a new encoding, and the
// normal form would not be its own normal form.
bool percent_encodings_well_formed(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') continue;
    if (i + 2 >= text.size() || !is_hex_digit(text[i + 1]) || !is_hex_digit(text[i + 2])) return false;
    i += 2;
  }
  return true;
}

// RFC 3986 §6.2.2.1 and §6.2.2.2: percent-encodings with upper-case hex digits, and those of
// unreserved characters decoded (every '%' starts an encoding: percent_encodings_well_formed).
std::string normalize_percent_encoding(std::string_view text, bool lower_case_rest) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%' && i + 2 < text.size() && is_hex_digit(text[i + 1]) && is_hex_digit(text[i + 2])) {
      const char hex[2] = {upper_ascii(text[i + 1]), upper_ascii(text[i + 2])};
      unsigned value = 0;
      std::from_chars(hex, hex + 2, value, 16);
      const char decoded = static_cast<char>(value);
      if (is_unreserved(decoded)) {
        out.push_back(lower_case_rest ? lower_ascii(decoded) : decoded);
      } else {
        out.push_back('%');
        out.push_back(hex[0]);
        out.push_back(hex[1]);
      }
      i += 2;
      continue;
    }
    out.push_back(lower_case_rest ? lower_ascii(c) : c);
  }
  return out;
}

struct ParsedUrl {
  std::string origin;  // scheme://host[:port]
  std::string path;    // "/" when empty
};

Result<ParsedUrl> parse_request_url(std::string_view url) {
  auto bad = [](std::string why) { return fail(ErrorCode::kUsage, "the request URL " + std::move(why)); };
  if (url.empty()) return bad("is empty");
  if (url.size() > 8192) return bad("is longer than 8192 bytes");
  for (char c : url) {
    if (!is_uri_char(c)) return bad("holds a character that RFC 3986 does not allow in a URI");
  }
  const std::size_t colon = url.find(':');
  if (colon == std::string_view::npos || url.substr(colon, 3) != "://") return bad("is not an absolute http or https URL");
  const std::string scheme = core::ascii_lower(url.substr(0, colon));
  if (scheme != "https" && scheme != "http") return bad("is not an http or https URL");
  std::string_view rest = url.substr(colon + 3);
  const std::size_t authority_end = std::min(rest.find_first_of("/?#"), rest.size());
  const std::string_view authority = rest.substr(0, authority_end);
  std::string_view path = rest.substr(authority_end);
  path = path.substr(0, std::min(path.find_first_of("?#"), path.size()));
  // RFC 9110 §4.2.4: user information is never sent, so no request's target carries it.
  if (authority.find('@') != std::string_view::npos) return bad("carries user information");
  std::string_view host = authority;
  std::string_view port;
  if (host.starts_with('[')) {
    const std::size_t close = host.find(']');
    if (close == std::string_view::npos) return bad("has an unterminated IPv6 address");
    port = host.substr(close + 1);
    host = host.substr(0, close + 1);
    if (!port.empty() && !port.starts_with(':')) return bad("has text after its IPv6 address");
    if (!port.empty()) port.remove_prefix(1);
    if (host.substr(1, host.size() - 2).find_first_of("[]/") != std::string_view::npos || host.size() < 3) {
      return bad("has a malformed IPv6 address");
    }
  } else {
    const std::size_t port_colon = host.find(':');
    if (port_colon != std::string_view::npos) {
      port = host.substr(port_colon + 1);
      host = host.substr(0, port_colon);
    }
    if (host.find_first_of("[]") != std::string_view::npos) return bad("has a malformed host");
  }
  if (host.empty()) return bad("has no host");
  if (!percent_encodings_well_formed(host) || !percent_encodings_well_formed(path)) {
    return bad("has a '%' that does not start a percent-encoding");
  }
  for (char c : port) {
    if (c < '0' || c > '9') return bad("has a port that is not a number");
  }
  // RFC 3986 §6.2.3: an empty port, and the scheme's default port, are the same as none.
  std::string port_text(port);
  port_text.erase(0, std::min(port_text.find_first_not_of('0'), port_text.size()));
  if (port_text.size() > 5 || (!port_text.empty() && std::stoul(port_text) > 65535)) return bad("has a port above 65535");
  if (!port.empty() && port_text.empty()) return bad("has port 0");
  if ((scheme == "https" && port_text == "443") || (scheme == "http" && port_text == "80")) port_text.clear();

  ParsedUrl parsed;
  // §6.2.2.1: scheme and host are case-insensitive, and their normal form is lower case.
  parsed.origin = scheme + "://" + normalize_percent_encoding(host, true);
  if (!port_text.empty()) parsed.origin += ":" + port_text;
  // §6.2.3: an empty path is "/" for http and https.
  parsed.path = path.empty() ? std::string("/") : normalize_percent_encoding(path, false);
  return parsed;
}

bool is_nqchar(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return byte == 0x21 || (byte >= 0x23 && byte <= 0x5B) || (byte >= 0x5D && byte <= 0x7E);
}

// The first value of header `name` (lower-case) in `response`, or nullopt when it is absent
// (unlike HttpResponse::header, an empty value is told apart from a missing header).
std::optional<std::string_view> first_header(const HttpResponse& response, std::string_view name) {
  for (const auto& [header_name, value] : response.headers) {
    if (core::ascii_lower(header_name) == name) return std::string_view(value);
  }
  return std::nullopt;
}

// A parser of RFC 9110 §11.6.1 challenge lists. Positions in its errors are byte offsets, so that
// a message can say where the value goes wrong without repeating it.
class ChallengeParser {
 public:
  explicit ChallengeParser(std::string_view text) : text_(text) {}

  Result<std::vector<AuthChallenge>> parse() {
    std::vector<AuthChallenge> challenges;
    while (true) {
      skip_list_separators();
      if (at_end()) break;
      AuthChallenge challenge;
      challenge.scheme = std::string(token());
      if (challenge.scheme.empty()) return malformed("an authentication scheme was expected");
      if (!at_end() && peek() != ',') {
        if (!is_space(peek())) return malformed("the scheme is not followed by a space");
        skip_spaces();
        if (!at_end() && peek() != ',') {
          if (!read_token68(challenge)) {
            auto params = read_params(challenge);
            if (!params) return std::unexpected(params.error());
          }
        }
      }
      challenges.push_back(std::move(challenge));
    }
    if (challenges.empty()) return malformed("no challenge was found");
    return challenges;
  }

 private:
  static bool is_space(char c) { return c == ' ' || c == '\t'; }
  static bool is_token68_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           std::string_view("-._~+/").find(c) != std::string_view::npos;
  }
  [[nodiscard]] bool at_end() const { return at_ >= text_.size(); }
  [[nodiscard]] char peek() const { return text_[at_]; }
  void skip_spaces() {
    while (!at_end() && is_space(peek())) ++at_;
  }
  // RFC 9110 §5.6.1.2: a recipient accepts empty list elements.
  void skip_list_separators() {
    skip_spaces();
    while (!at_end() && peek() == ',') {
      ++at_;
      skip_spaces();
    }
  }
  std::string_view token() {
    const std::size_t start = at_;
    while (!at_end() && is_tchar(peek())) ++at_;
    return text_.substr(start, at_ - start);
  }
  std::unexpected<Error> malformed(std::string_view why) const {
    return fail(ErrorCode::kServer,
                "the WWW-Authenticate header is malformed: " + std::string(why) + " (at byte " + std::to_string(at_) + ")");
  }

  // token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=", when it is all the
  // challenge holds (followed by the end or a comma). Leaves the position alone otherwise.
  bool read_token68(AuthChallenge& challenge) {
    const std::size_t start = at_;
    while (!at_end() && is_token68_char(peek())) ++at_;
    if (at_ == start) return false;
    while (!at_end() && peek() == '=') ++at_;
    const std::size_t end = at_;
    skip_spaces();
    if (at_end() || peek() == ',') {
      challenge.token68 = std::string(text_.substr(start, end - start));
      return true;
    }
    at_ = start;
    return false;
  }

  // quoted-string (RFC 9110 §5.6.4), the opening quote at the current position.
  Result<std::string> quoted_string() {
    ++at_;
    std::string value;
    while (!at_end()) {
      const char c = peek();
      const auto byte = static_cast<unsigned char>(c);
      if (c == '"') {
        ++at_;
        return value;
      }
      if (c == '\\') {
        if (at_ + 1 >= text_.size()) break;
        const auto escaped = static_cast<unsigned char>(text_[at_ + 1]);
        // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
        if (!(escaped == '\t' || escaped >= 0x20) || escaped == 0x7F) return malformed("a quoted string escapes a control character");
        value.push_back(text_[at_ + 1]);
        at_ += 2;
        continue;
      }
      // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
      if (!(c == '\t' || byte >= 0x20) || byte == 0x7F) return malformed("a quoted string holds a control character");
      value.push_back(c);
      ++at_;
    }
    return malformed("a quoted string is not terminated");
  }

  // #auth-param (RFC 9110 §11.2), up to the end or the start of the next challenge.
  Result<void> read_params(AuthChallenge& challenge) {
    while (true) {
      std::string name = core::ascii_lower(token());
      if (name.empty()) return malformed("a parameter name was expected");
      skip_spaces();  // BWS
      if (at_end() || peek() != '=') return malformed("a parameter name is not followed by '='");
      ++at_;
      skip_spaces();
      std::string value;
      if (!at_end() && peek() == '"') {
        auto quoted = quoted_string();
        if (!quoted) return std::unexpected(quoted.error());
        value = std::move(*quoted);
      } else {
        value = std::string(token());
        if (value.empty()) return malformed("a parameter value is neither a token nor a quoted string");
      }
      // §11.2: "Each parameter name MUST only occur once per challenge."
      if (challenge.param(name) != nullptr) return malformed("a parameter occurs twice in one challenge");
      challenge.params.emplace_back(std::move(name), std::move(value));
      skip_spaces();
      if (at_end()) return {};
      if (peek() != ',') return malformed("parameters are not separated by a comma");
      skip_list_separators();
      if (at_end()) return {};
      // A parameter is a token followed by '='; a new challenge's scheme is a token followed by a
      // space, a comma or the end.
      const std::size_t next = at_;
      const bool named = !token().empty();
      skip_spaces();
      const bool is_param = named && !at_end() && peek() == '=';
      at_ = next;
      if (!is_param) return {};
    }
  }

  std::string_view text_;
  std::size_t at_ = 0;
};

}  // namespace

const char* dpop_algorithm_name(DpopAlgorithm algorithm) noexcept {
  return algorithm == DpopAlgorithm::kEdDsa ? "EdDSA" : "ES256";
}

Result<DpopAlgorithm> choose_dpop_algorithm(const std::vector<std::string>& server_algs) {
  if (server_algs.empty()) return DpopAlgorithm::kEs256;
  if (std::ranges::find(server_algs, "EdDSA") != server_algs.end()) return DpopAlgorithm::kEdDsa;
  if (std::ranges::find(server_algs, "ES256") != server_algs.end()) return DpopAlgorithm::kEs256;
  return fail(ErrorCode::kConfig, "the server accepts no DPoP signing algorithm this client supports (ES256, EdDSA)");
}

std::string jwk_thumbprint_input(const DpopPublicJwk& jwk) {
  // The members are base64url text and fixed names, none of which JSON escapes.
  std::string text = R"({"crv":")" + jwk.crv + R"(","kty":")" + jwk.kty + R"(","x":")" + jwk.x + '"';
  if (jwk.kty == "EC") text += R"(,"y":")" + jwk.y + '"';
  text += '}';
  return text;
}

std::string jwk_thumbprint_sha256(const DpopPublicJwk& jwk) { return base64url(sha256(jwk_thumbprint_input(jwk))); }

void DpopKey::PkeyFree::operator()(evp_pkey_st* key) const noexcept { EVP_PKEY_free(key); }

DpopKey::DpopKey(PkeyPointer pkey, DpopAlgorithm algorithm, DpopPublicJwk public_jwk)
    : pkey_(std::move(pkey)), algorithm_(algorithm), public_jwk_(std::move(public_jwk)),
      thumbprint_(jwk_thumbprint_sha256(public_jwk_)) {}

DpopKey::DpopKey(Secret sodium_ed25519_key, DpopPublicJwk public_jwk)
    : sodium_ed25519_key_(std::move(sodium_ed25519_key)), algorithm_(DpopAlgorithm::kEdDsa),
      public_jwk_(std::move(public_jwk)), thumbprint_(jwk_thumbprint_sha256(public_jwk_)) {}

DpopKey::DpopKey(DpopKey&& other) noexcept = default;
DpopKey& DpopKey::operator=(DpopKey&& other) noexcept = default;
DpopKey::~DpopKey() = default;

Result<DpopKey> DpopKey::generate(DpopAlgorithm algorithm) {
  if (const Sodium* library = algorithm == DpopAlgorithm::kEdDsa ? sodium() : nullptr) {
    std::array<unsigned char, crypto_sign_PUBLICKEYBYTES> public_key{};
    std::array<unsigned char, crypto_sign_SECRETKEYBYTES> secret_key{};
    if (library->sign_keypair(public_key.data(), secret_key.data()) != 0) {
      explicit_bzero(secret_key.data(), secret_key.size());
      return fail(ErrorCode::kInternal, "libsodium could not generate an EdDSA key");
    }
    auto [held, jwk] = sodium_ed25519_pair(secret_key);
    return DpopKey(std::move(held), std::move(jwk));
  }
  EVP_PKEY* raw = algorithm == DpopAlgorithm::kEdDsa ? EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")
                                                      : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  PkeyPointer pkey(raw);
  if (!pkey) return openssl_failure(std::string("generate a ") + dpop_algorithm_name(algorithm) + " key");
  auto jwk = public_jwk_of(pkey.get(), algorithm);
  if (!jwk) return std::unexpected(jwk.error());
  return DpopKey(std::move(pkey), algorithm, std::move(*jwk));
}

Result<Secret> DpopKey::serialize() const {
  WipingString d;
  if (!sodium_ed25519_key_.empty()) {
    // RFC 8037 §2: "d" is the private key, the seed that begins libsodium's secret key.
    d.assign(sodium_ed25519_key_.reveal().substr(0, kEd25519KeyBytes));
  } else if (algorithm_ == DpopAlgorithm::kEdDsa) {
    d.assign(kEd25519KeyBytes, '\0');
    std::size_t size = d.size();
    if (EVP_PKEY_get_raw_private_key(pkey_.get(), reinterpret_cast<unsigned char*>(d.data()), &size) != 1 ||
        size != kEd25519KeyBytes) {
      return openssl_failure("export the DPoP key");
    }
  } else {
    BIGNUM* scalar_raw = nullptr;
    if (EVP_PKEY_get_bn_param(pkey_.get(), OSSL_PKEY_PARAM_PRIV_KEY, &scalar_raw) != 1) {
      return openssl_failure("export the DPoP key");
    }
    BignumPtr scalar(scalar_raw);
    auto bytes = padded_bytes(scalar.get(), kP256CoordinateBytes);
    if (!bytes) return openssl_failure("export the DPoP key");
    d = std::move(*bytes);
  }
  // RFC 7517 §4 / RFC 7518 §6.2.2.1 / RFC 8037 §2: the private key as a JWK, written straight into
  // wiping storage (members in lexicographic order, as its thumbprint input).
  WipingString text;
  text.reserve(160);
  text.append(R"({"crv":")").append(public_jwk_.crv).append(R"(","d":")");
  append_base64url(text, d);
  text.append(R"(","kty":")").append(public_jwk_.kty).append(R"(","x":")").append(public_jwk_.x).append("\"");
  if (algorithm_ == DpopAlgorithm::kEs256) text.append(R"(,"y":")").append(public_jwk_.y).append("\"");
  text.append("}");
  return Secret(std::move(text));
}

Result<DpopKey> DpopKey::load(const Secret& serialized) {
  auto document = core::parse_secret_json(serialized.reveal());
  if (!document || !document->is_object()) return damaged_key("is not a JSON object");
  auto text_member = [&](const char* name) -> std::optional<std::string_view> {
    auto it = document->find(name);
    if (it == document->end() || !it->is_string()) return std::nullopt;
    return std::string_view(it->get_ref<const WipingString&>());
  };
  const auto kty = text_member("kty");
  const auto crv = text_member("crv");
  const auto x = text_member("x");
  const auto d = text_member("d");
  if (!kty || !crv || !x || !d) return damaged_key("lacks one of kty, crv, x and d");

  if (*kty == "OKP" && *crv == "Ed25519") {
    auto private_bytes = decode_exact_base64url(*d, kEd25519KeyBytes);
    if (!private_bytes) return damaged_key("has a malformed \"d\"");
    if (const Sodium* library = sodium()) {
      std::array<unsigned char, crypto_sign_PUBLICKEYBYTES> public_key{};
      std::array<unsigned char, crypto_sign_SECRETKEYBYTES> secret_key{};
      // RFC 8032 §5.1.5: the public key is derived from the seed.
      if (library->sign_seed_keypair(public_key.data(), secret_key.data(),
                                     reinterpret_cast<const unsigned char*>(private_bytes->data())) != 0) {
        explicit_bzero(secret_key.data(), secret_key.size());
        return damaged_key("is not a valid Ed25519 key");
      }
      auto [held, jwk] = sodium_ed25519_pair(secret_key);
      // The stored x must be the key derived from d.
      if (jwk.x != *x) return damaged_key("has a public key that does not belong to its private key");
      return DpopKey(std::move(held), std::move(jwk));
    }
    PkeyPointer pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr,
                                                  reinterpret_cast<const unsigned char*>(private_bytes->data()),
                                                  private_bytes->size()));
    if (!pkey) return damaged_key("is not a valid Ed25519 key");
    auto jwk = public_jwk_of(pkey.get(), DpopAlgorithm::kEdDsa);
    if (!jwk) return std::unexpected(jwk.error());
    // The public key is derived from the private one; the stored x must be that key.
    if (jwk->x != *x) return damaged_key("has a public key that does not belong to its private key");
    return DpopKey(std::move(pkey), DpopAlgorithm::kEdDsa, std::move(*jwk));
  }
  if (*kty != "EC" || *crv != "P-256") return damaged_key("is neither a P-256 nor an Ed25519 key");
  const auto y = text_member("y");
  if (!y) return damaged_key("lacks y");
  auto x_bytes = decode_exact_base64url(*x, kP256CoordinateBytes);
  auto y_bytes = decode_exact_base64url(*y, kP256CoordinateBytes);
  auto d_bytes = decode_exact_base64url(*d, kP256CoordinateBytes);
  if (!x_bytes || !y_bytes || !d_bytes) return damaged_key("has a malformed x, y or d");
  WipingString point = "\x04";  // SEC 1 §2.3.3: an uncompressed point
  point.append(*x_bytes).append(*y_bytes);
  // A BIGNUM in OpenSSL's secure heap when there is one, cleared when freed.
  BignumPtr scalar(BN_secure_new());
  if (!scalar || BN_bin2bn(reinterpret_cast<const unsigned char*>(d_bytes->data()), static_cast<int>(d_bytes->size()),
                           scalar.get()) == nullptr) {
    return openssl_failure("read the DPoP key");
  }
  ParamBldPtr builder(OSSL_PARAM_BLD_new());
  if (!builder || OSSL_PARAM_BLD_push_utf8_string(builder.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(builder.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1 ||
      OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_PRIV_KEY, scalar.get()) != 1) {
    return openssl_failure("read the DPoP key");
  }
  ParamPtr params(OSSL_PARAM_BLD_to_param(builder.get()));
  PkeyCtxPtr context(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !context || EVP_PKEY_fromdata_init(context.get()) != 1 ||
      EVP_PKEY_fromdata(context.get(), &raw, EVP_PKEY_KEYPAIR, params.get()) != 1) {
    return damaged_key("is not a valid P-256 key");
  }
  PkeyPointer pkey(raw);
  // The private scalar must be in range and the public point must be d·G: a key whose halves
  // disagree would sign proofs that fail against the jkt the server bound the token to.
  PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1 || EVP_PKEY_private_check(check.get()) != 1 ||
      EVP_PKEY_pairwise_check(check.get()) != 1) {
    return damaged_key("has a public key that does not belong to its private key");
  }
  auto jwk = public_jwk_of(pkey.get(), DpopAlgorithm::kEs256);
  if (!jwk) return std::unexpected(jwk.error());
  return DpopKey(std::move(pkey), DpopAlgorithm::kEs256, std::move(*jwk));
}

Result<std::string> DpopKey::sign(std::string_view signing_input) const {
  if (!sodium_ed25519_key_.empty()) {
    // RFC 8032 §5.1.6: the 64-byte Ed25519 signature (deterministic: no randomness).
    std::string signature(crypto_sign_BYTES, '\0');
    if (sodium_library()->sign_detached(reinterpret_cast<unsigned char*>(signature.data()), nullptr,
                                        reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(),
                                        reinterpret_cast<const unsigned char*>(sodium_ed25519_key_.reveal().data())) != 0) {
      return fail(ErrorCode::kInternal, "libsodium could not sign a DPoP proof");
    }
    return signature;
  }
  MdCtxPtr context(EVP_MD_CTX_new());
  const EVP_MD* digest = algorithm_ == DpopAlgorithm::kEdDsa ? nullptr : EVP_sha256();
  if (!context || EVP_DigestSignInit(context.get(), nullptr, digest, nullptr, pkey_.get()) != 1) {
    return openssl_failure("start a DPoP signature");
  }
  const auto* input = reinterpret_cast<const unsigned char*>(signing_input.data());
  std::size_t size = 0;
  if (EVP_DigestSign(context.get(), nullptr, &size, input, signing_input.size()) != 1) {
    return openssl_failure("sign a DPoP proof");
  }
  std::string signature(size, '\0');
  if (EVP_DigestSign(context.get(), reinterpret_cast<unsigned char*>(signature.data()), &size, input, signing_input.size()) != 1) {
    return openssl_failure("sign a DPoP proof");
  }
  signature.resize(size);
  if (algorithm_ == DpopAlgorithm::kEdDsa) return signature;
  // RFC 7518 §3.4: JWS carries R || S as two 32-byte big-endian integers, not the DER
  // ECDSA-Sig-Value that OpenSSL produces.
  const auto* der = reinterpret_cast<const unsigned char*>(signature.data());
  EcdsaSigPtr parsed(d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(signature.size())));
  if (!parsed) return openssl_failure("read its own ECDSA signature");
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(parsed.get(), &r, &s);
  std::string raw(2 * kP256CoordinateBytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(r, out, kP256CoordinateBytes) != static_cast<int>(kP256CoordinateBytes) ||
      BN_bn2binpad(s, out + kP256CoordinateBytes, kP256CoordinateBytes) != static_cast<int>(kP256CoordinateBytes)) {
    return openssl_failure("convert its ECDSA signature");
  }
  return raw;
}

Result<std::string> dpop_htu(std::string_view url) {
  auto parsed = parse_request_url(url);
  if (!parsed) return std::unexpected(parsed.error());
  return parsed->origin + parsed->path;
}

Result<std::string> dpop_origin(std::string_view url) {
  auto parsed = parse_request_url(url);
  if (!parsed) return std::unexpected(parsed.error());
  return std::move(parsed->origin);
}

void disable_libsodium_for_test(bool disabled) noexcept { sodium_disabled.store(disabled); }

std::string dpop_access_token_hash(const Secret& access_token) { return base64url(sha256(access_token.reveal())); }

Result<std::string> validate_dpop_nonce(std::string_view value) {
  if (value.empty()) return fail(ErrorCode::kServer, "the server's DPoP-Nonce is empty");
  if (value.size() > kMaxDpopNonceBytes) {
    return fail(ErrorCode::kServer, "the server's DPoP-Nonce is " + std::to_string(value.size()) + " bytes, more than the " +
                                        std::to_string(kMaxDpopNonceBytes) + " accepted");
  }
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (!is_nqchar(value[i])) {
      static constexpr char kHex[] = "0123456789ABCDEF";
      const auto byte = static_cast<unsigned char>(value[i]);
      const std::string shown = {'0', 'x', kHex[byte >> 4], kHex[byte & 0xF]};
      // RFC 9449 §8.1: nonce = 1*NQCHAR, so no space, quote or backslash, and nothing outside ASCII.
      return fail(ErrorCode::kServer, "the server's DPoP-Nonce holds byte " + shown + " at position " + std::to_string(i) +
                                          ", which RFC 9449 does not allow in a nonce");
    }
  }
  return std::string(value);
}

Result<Secret> make_dpop_proof(const DpopKey& key, const DpopProofRequest& request) {
  if (request.method.empty() || !std::ranges::all_of(request.method, is_tchar)) {
    return fail(ErrorCode::kUsage, "the request method is not an HTTP method token");
  }
  if (request.issued_at < 0) return fail(ErrorCode::kUsage, "a DPoP proof cannot be issued before 1970");
  auto htu = dpop_htu(request.url);
  if (!htu) return std::unexpected(htu.error());
  if (!request.nonce.empty()) {
    if (auto nonce = validate_dpop_nonce(request.nonce); !nonce) return std::unexpected(nonce.error());
  }
  std::array<unsigned char, kJtiBytes> jti_bytes{};
  if (!fill_random(jti_bytes)) return fail(ErrorCode::kInternal, "the system's random number generator gave no bytes for a jti");

  const DpopPublicJwk& public_jwk = key.public_jwk();
  nlohmann::json jwk = {{"kty", public_jwk.kty}, {"crv", public_jwk.crv}, {"x", public_jwk.x}};
  if (!public_jwk.y.empty()) jwk["y"] = public_jwk.y;
  // §4.2: the public key only; the private key never leaves DpopKey.
  const nlohmann::json header = {{"typ", "dpop+jwt"}, {"alg", dpop_algorithm_name(key.algorithm())}, {"jwk", std::move(jwk)}};
  nlohmann::json claims = {
      {"jti", base64url(std::string_view(reinterpret_cast<const char*>(jti_bytes.data()), jti_bytes.size()))},
      {"htm", request.method},
      {"htu", std::move(*htu)},
      {"iat", request.issued_at},
  };
  if (request.access_token != nullptr) claims["ath"] = dpop_access_token_hash(*request.access_token);
  if (!request.nonce.empty()) claims["nonce"] = request.nonce;

  // RFC 7515 §5.1: the signing input is BASE64URL(header) '.' BASE64URL(payload).
  std::string signing_input = base64url(header.dump()) + "." + base64url(claims.dump());
  auto signature = key.sign(signing_input);
  if (!signature) return std::unexpected(signature.error());
  Secret proof;
  proof.reserve(signing_input.size() + 1 + (signature->size() * 4 + 2) / 3);
  proof.append(signing_input);
  proof.append(".");
  proof.append(base64url(*signature));
  return proof;
}

const std::string* AuthChallenge::param(std::string_view name) const {
  for (const auto& [param_name, value] : params) {
    if (param_name == name) return &value;
  }
  return nullptr;
}

Result<std::vector<AuthChallenge>> parse_www_authenticate(std::string_view value) {
  if (value.size() > kMaxWwwAuthenticateBytes) {
    return fail(ErrorCode::kServer, "the WWW-Authenticate header is longer than " + std::to_string(kMaxWwwAuthenticateBytes) +
                                        " bytes");
  }
  return ChallengeParser(value).parse();
}

Result<std::optional<DpopChallenge>> dpop_challenge(const HttpResponse& response) {
  std::optional<DpopChallenge> found;
  for (const auto& [name, value] : response.headers) {
    if (core::ascii_lower(name) != "www-authenticate") continue;
    auto challenges = parse_www_authenticate(value);
    if (!challenges) return std::unexpected(challenges.error());
    for (const AuthChallenge& challenge : *challenges) {
      if (found || core::ascii_lower(challenge.scheme) != "dpop") continue;
      DpopChallenge dpop;
      if (const auto* error = challenge.param("error")) dpop.error = sanitize_text(*error);
      if (const auto* description = challenge.param("error_description")) dpop.error_description = sanitize_text(*description);
      if (const auto* realm = challenge.param("realm")) dpop.realm = sanitize_text(*realm);
      if (const auto* scope = challenge.param("scope")) dpop.scope = sanitize_text(*scope);
      // RFC 9449 §7.1: algs is "a space-delimited list of JWS alg values". Tabs count as spaces,
      // and what sanitizing leaves empty is no algorithm.
      if (const auto* algs = challenge.param("algs")) {
        std::string_view rest = *algs;
        while (!rest.empty()) {
          const std::size_t space = std::min(rest.find_first_of(" \t"), rest.size());
          std::string alg = sanitize_text(rest.substr(0, space));
          if (!alg.empty()) dpop.algs.push_back(std::move(alg));
          rest.remove_prefix(std::min(space + 1, rest.size()));
        }
      }
      found = std::move(dpop);
    }
  }
  return found;
}

Result<std::optional<std::string>> dpop_nonce_header(const HttpResponse& response) {
  const auto value = first_header(response, "dpop-nonce");
  if (!value) return std::optional<std::string>();
  auto nonce = validate_dpop_nonce(*value);
  if (!nonce) return std::unexpected(nonce.error());
  return std::optional<std::string>(std::move(*nonce));
}

Result<std::optional<std::string>> dpop_nonce_to_retry_with(const HttpResponse& response) {
  bool asks_for_nonce = false;
  if (response.status == 400) {
    // §8: the authorization server's error response, {"error":"use_dpop_nonce"} (RFC 6749 §5.2).
    auto body = core::parse_secret_json(response.body.reveal());
    if (body && body->is_object()) {
      auto error = body->find("error");
      asks_for_nonce = error != body->end() && error->is_string() && error->get_ref<const WipingString&>() == "use_dpop_nonce";
    }
  } else if (response.status == 401) {
    // §9: the resource server's challenge, WWW-Authenticate: DPoP error="use_dpop_nonce".
    auto challenge = dpop_challenge(response);
    if (!challenge) return std::unexpected(challenge.error());
    asks_for_nonce = *challenge && (*challenge)->error == "use_dpop_nonce";
  }
  if (!asks_for_nonce) return std::optional<std::string>();
  auto nonce = dpop_nonce_header(response);
  if (!nonce) return std::unexpected(nonce.error());
  if (!*nonce) return fail(ErrorCode::kServer, "the server asked for a DPoP nonce but sent no DPoP-Nonce header", "use_dpop_nonce",
                           response.status);
  return nonce;
}

std::optional<std::string> DpopNonceCache::nonce_for(std::string_view url) const {
  auto origin = dpop_origin(url);
  if (!origin) return std::nullopt;
  std::lock_guard lock(mutex_);
  auto it = nonces_.find(*origin);
  if (it == nonces_.end()) return std::nullopt;
  return it->second.second;
}

Result<void> DpopNonceCache::update(std::string_view url, const HttpResponse& response) {
  auto nonce = dpop_nonce_header(response);
  if (!nonce) return std::unexpected(nonce.error());
  if (!*nonce) return {};
  return remember(url, **nonce);
}

Result<void> DpopNonceCache::remember(std::string_view url, std::string_view nonce) {
  auto origin = dpop_origin(url);
  if (!origin) return std::unexpected(origin.error());
  auto valid = validate_dpop_nonce(nonce);
  if (!valid) return std::unexpected(valid.error());
  std::lock_guard lock(mutex_);
  auto it = nonces_.find(*origin);
  if (it == nonces_.end() && nonces_.size() >= kMaxOrigins) {
    auto oldest = std::ranges::min_element(nonces_, {}, [](const auto& entry) { return entry.second.first; });
    nonces_.erase(oldest);
  }
  nonces_[std::move(*origin)] = {next_age_++, std::move(*valid)};
  return {};
}

void DpopNonceCache::clear() {
  std::lock_guard lock(mutex_);
  nonces_.clear();
}

}  // namespace devicelogin::oauth
