// DPoP (RFC 9449): the WWW-Authenticate parser (RFC 9110 §11.6.1), DPoP-Nonce validation, htu
// normalization, the proof builder (each proof parsed back and verified with the JWT module's
// independent verifier), the stored key's loader, and the use_dpop_nonce detection. Byte 0 picks
// the part; the rest is its input (for the proof: method NUL url NUL nonce NUL access token; for
// the nonce retry: byte 1 status, WWW-Authenticate NUL DPoP-Nonce NUL body).
#include <nlohmann/json.hpp>

#include "fuzz_input.hpp"
#include "oauth/dpop.hpp"
#include "oauth/jwt.hpp"

namespace {

using namespace devicelogin;

bool is_tchar(char c) {
  if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// The challenges written back in RFC 9110 form, every parameter value quoted.
std::string format_challenges(const std::vector<oauth::AuthChallenge>& challenges) {
  std::string out;
  for (const auto& challenge : challenges) {
    if (!out.empty()) out += ", ";
    out += challenge.scheme;
    if (!challenge.token68.empty()) out += " " + challenge.token68;
    for (std::size_t i = 0; i < challenge.params.size(); ++i) {
      out += i == 0 ? " " : ", ";
      out += challenge.params[i].first + "=\"";
      for (char c : challenge.params[i].second) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
      }
      out += '"';
    }
  }
  return out;
}

bool same_challenges(const std::vector<oauth::AuthChallenge>& a, const std::vector<oauth::AuthChallenge>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].scheme != b[i].scheme || a[i].token68 != b[i].token68 || a[i].params != b[i].params) return false;
  }
  return true;
}

void www_authenticate(std::string_view text) {
  auto challenges = oauth::parse_www_authenticate(text);
  if (!challenges) {
    fuzz::check(challenges.error().message.find('\n') == std::string::npos);
    fuzz::check(challenges.error().code == ErrorCode::kServer);
    return;
  }
  fuzz::check(!challenges->empty());
  for (const auto& challenge : *challenges) {
    fuzz::check(!challenge.scheme.empty() && std::ranges::all_of(challenge.scheme, is_tchar));
    fuzz::check(challenge.token68.empty() || challenge.params.empty());
    for (const auto& [name, value] : challenge.params) {
      fuzz::check(!name.empty() && std::ranges::all_of(name, is_tchar));
      fuzz::check(std::ranges::none_of(name, [](char c) { return c >= 'A' && c <= 'Z'; }));
    }
  }
  // What was parsed, written back with every value quoted, parses to the same challenges.
  auto again = oauth::parse_www_authenticate(format_challenges(*challenges));
  fuzz::check(again.has_value() && same_challenges(*again, *challenges));

  HttpResponse response;
  response.status = 401;
  response.headers.emplace_back("www-authenticate", std::string(text));
  auto dpop = oauth::dpop_challenge(response);
  fuzz::check(dpop.has_value());
  if (*dpop) {
    for (const auto& alg : (*dpop)->algs) fuzz::check(!alg.empty() && alg.find(' ') == std::string::npos);
  }
}

void nonce(std::string_view text) {
  auto valid = oauth::validate_dpop_nonce(text);
  const bool nqchar = !text.empty() && text.size() <= oauth::kMaxDpopNonceBytes &&
                      std::ranges::all_of(text, [](char c) {
                        const auto byte = static_cast<unsigned char>(c);
                        return byte == 0x21 || (byte >= 0x23 && byte <= 0x5B) || (byte >= 0x5D && byte <= 0x7E);
                      });
  fuzz::check(valid.has_value() == nqchar);
  if (valid) fuzz::check(*valid == text);
  oauth::DpopNonceCache cache;
  auto remembered = cache.remember("https://as.example.com/token", text);
  fuzz::check(remembered.has_value() == nqchar);
  fuzz::check(cache.nonce_for("https://AS.example.com:443/other").has_value() == nqchar);
}

void htu(std::string_view url) {
  auto normal = oauth::dpop_htu(url);
  auto origin = oauth::dpop_origin(url);
  fuzz::check(normal.has_value() == origin.has_value());
  if (!normal) {
    fuzz::check(normal.error().code == ErrorCode::kUsage);
    return;
  }
  fuzz::check(normal->find_first_of("?#") == std::string::npos);
  fuzz::check(normal->starts_with("https://") || normal->starts_with("http://"));
  fuzz::check(normal->starts_with(*origin) && normal->size() > origin->size() && (*normal)[origin->size()] == '/');
  // Its own normal form.
  auto again = oauth::dpop_htu(*normal);
  fuzz::check(again.has_value() && *again == *normal);
}

const oauth::DpopKey& fuzz_key(bool eddsa) {
  static const oauth::DpopKey es256 = std::move(*oauth::DpopKey::generate(oauth::DpopAlgorithm::kEs256));
  static const oauth::DpopKey ed25519 = std::move(*oauth::DpopKey::generate(oauth::DpopAlgorithm::kEdDsa));
  return eddsa ? ed25519 : es256;
}

void proof(fuzz::Input& in, bool eddsa) {
  const std::string method(in.part());
  const std::string url(in.part());
  const std::string nonce_text(in.part());
  const Secret token(std::string(in.rest()));
  const oauth::DpopKey& key = fuzz_key(eddsa);
  oauth::DpopProofRequest request{.method = method, .url = url, .issued_at = 1'800'000'000, .access_token = nullptr,
                                  .nonce = nonce_text};
  if (!token.empty()) request.access_token = &token;
  auto made = oauth::make_dpop_proof(key, request);
  if (!made) {
    fuzz::check(made.error().message.find('\n') == std::string::npos);
    return;
  }
  // Parsed back and verified by the JWT module, with the key the header carries.
  auto jws = oauth::parse_compact_jws(made->reveal());
  fuzz::check(jws.has_value());
  fuzz::check(jws->typ == "dpop+jwt" && jws->alg == oauth::dpop_algorithm_name(key.algorithm()));
  const auto header = nlohmann::json::parse(jws->header_json, nullptr, false);
  const auto claims = nlohmann::json::parse(jws->payload_json, nullptr, false);
  fuzz::check(header.is_object() && claims.is_object() && header.contains("jwk"));
  const auto& jwk_json = header["jwk"];
  fuzz::check(!jwk_json.contains("d"));
  oauth::Jwk jwk;
  jwk.kty = jwk_json.value("kty", "");
  jwk.crv = jwk_json.value("crv", "");
  jwk.x = jwk_json.value("x", "");
  jwk.y = jwk_json.value("y", "");
  fuzz::check(oauth::verify_jws_signature(*jws, jwk).has_value());
  fuzz::check(claims.value("htm", "") == method);
  fuzz::check(claims.value("htu", "") == oauth::dpop_htu(url).value_or("refused"));
  fuzz::check(claims.value("nonce", "") == nonce_text);
  fuzz::check(claims.contains("ath") == !token.empty());
}

void stored_key(std::string_view text) {
  auto loaded = oauth::DpopKey::load(Secret(text));
  if (!loaded) {
    fuzz::check(loaded.error().code == ErrorCode::kReloginRequired);
    return;
  }
  auto stored = loaded->serialize();
  fuzz::check(stored.has_value());
  auto again = oauth::DpopKey::load(*stored);
  fuzz::check(again.has_value() && again->thumbprint() == loaded->thumbprint());
}

void nonce_retry(fuzz::Input& in) {
  static constexpr int kStatuses[] = {400, 401, 200, 403};
  HttpResponse response;
  response.status = kStatuses[in.byte() % std::size(kStatuses)];
  response.headers.emplace_back("www-authenticate", std::string(in.part()));
  const std::string nonce_header(in.part());
  if (!nonce_header.empty()) response.headers.emplace_back("dpop-nonce", nonce_header);
  response.body = Secret(std::string(in.rest()));
  auto retry = oauth::dpop_nonce_to_retry_with(response);
  if (retry && *retry) {
    fuzz::check(**retry == nonce_header);
    fuzz::check(response.status == 400 || response.status == 401);
  }
  if (!retry) fuzz::check(retry.error().message.find('\n') == std::string::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input in(data, size);
  switch (in.byte() % 7) {
    case 0: www_authenticate(in.rest()); break;
    case 1: nonce(in.rest()); break;
    case 2: htu(in.rest()); break;
    case 3: proof(in, false); break;
    case 4: proof(in, true); break;
    case 5: stored_key(in.rest()); break;
    default: nonce_retry(in); break;
  }
  return 0;
}
