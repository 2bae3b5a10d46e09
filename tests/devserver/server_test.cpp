// The devserver over real HTTP: an in-process server on 127.0.0.1:0 and httplib::Client.
#include <gtest/gtest.h>
#include <httplib.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/encoding.hpp"
#include "devserver/server.hpp"
#include "test_server.hpp"

namespace devicelogin::devserver {
namespace {

using json = nlohmann::json;

using testing::ServerClock;
using testing::start;

std::unique_ptr<httplib::Client> client_for(const Server& server) {
  auto client = std::make_unique<httplib::Client>("127.0.0.1", server.port());
  client->set_connection_timeout(5);
  client->set_read_timeout(5);
  return client;
}

struct Reply {
  int status = 0;
  json body;
  httplib::Headers headers;
  std::string text;
};

Reply post_form(httplib::Client& client, const std::string& path, const core::FormFields& fields,
                const httplib::Headers& headers = {}) {
  auto result = client.Post(path.c_str(), headers, core::form_encode(fields), "application/x-www-form-urlencoded");
  if (!result) return {};
  Reply reply{result->status, json::parse(result->body, nullptr, false), result->headers, result->body};
  return reply;
}

Reply get(httplib::Client& client, const std::string& path, const httplib::Headers& headers = {}) {
  auto result = client.Get(path.c_str(), headers);
  if (!result) return {};
  return {result->status, json::parse(result->body, nullptr, false), result->headers, result->body};
}

std::string header(const Reply& reply, const std::string& name) {
  auto it = reply.headers.find(name);
  return it == reply.headers.end() ? std::string{} : it->second;
}

Reply device_authorization(httplib::Client& client, const std::string& scope = "openid profile offline_access",
                           const std::string& client_id = std::string(kDemoClientId)) {
  return post_form(client, "/device_authorization", {{"client_id", client_id}, {"scope", scope}});
}

Reply poll(httplib::Client& client, const std::string& device_code,
           const std::string& client_id = std::string(kDemoClientId)) {
  return post_form(client, "/token",
                   {{"grant_type", "urn:ietf:params:oauth:grant-type:device_code"},
                    {"device_code", device_code},
                    {"client_id", client_id}});
}

Reply refresh(httplib::Client& client, const std::string& refresh_token,
              const std::string& client_id = std::string(kDemoClientId)) {
  return post_form(client, "/token",
                   {{"grant_type", "refresh_token"}, {"refresh_token", refresh_token}, {"client_id", client_id}});
}

// A browser: keeps the session cookie and sends a same-origin Origin header on posts.
class Browser {
 public:
  explicit Browser(const Server& server) : client_(client_for(server)), origin_(server.issuer()) {}

  Reply get(const std::string& path) {
    Reply reply = devserver::get(*client_, path, cookie_headers());
    remember_cookie(reply);
    return reply;
  }
  Reply post(const std::string& path, const core::FormFields& fields) {
    httplib::Headers headers = cookie_headers();
    headers.emplace("Origin", origin_);
    Reply reply = post_form(*client_, path, fields, headers);
    remember_cookie(reply);
    return reply;
  }
  void set_origin(std::string origin) { origin_ = std::move(origin); }
  void forget_cookie() { cookie_.clear(); }

 private:
  httplib::Headers cookie_headers() const {
    httplib::Headers headers;
    if (!cookie_.empty()) headers.emplace("Cookie", cookie_);
    return headers;
  }
  void remember_cookie(const Reply& reply) {
    std::string set_cookie = header(reply, "Set-Cookie");
    if (!set_cookie.empty()) cookie_ = set_cookie.substr(0, set_cookie.find(';'));
  }

  std::unique_ptr<httplib::Client> client_;
  std::string origin_;
  std::string cookie_;
};

std::string csrf_of(const std::string& html) {
  std::smatch match;
  static const std::regex pattern(R"re(name="csrf" value="([^"]+)")re");
  return std::regex_search(html, match, pattern) ? match[1].str() : std::string{};
}

// Goes through the real pages: code -> sign in -> Approve/Deny. Returns the final page.
Reply decide_in_browser(const Server& server, const std::string& user_code, const std::string& decision,
                        const std::string& username = "alice", const std::string& password = "alice") {
  Browser browser(server);
  Reply page = browser.get("/device?user_code=" + user_code);
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.text.find("value=\"" + user_code + "\""), std::string::npos) << "code prefilled";
  Reply sign_in = browser.post("/device", {{"csrf", csrf_of(page.text)}, {"user_code", user_code}});
  EXPECT_EQ(sign_in.status, 200);
  EXPECT_NE(sign_in.text.find(">Sign in</button>"), std::string::npos);
  Reply consent = browser.post("/device/signin", {{"csrf", csrf_of(sign_in.text)},
                                                 {"username", username},
                                                 {"password", password}});
  EXPECT_EQ(consent.status, 200);
  EXPECT_NE(consent.text.find(">Approve</button>"), std::string::npos);
  EXPECT_NE(consent.text.find(">Deny</button>"), std::string::npos);
  // The code came from the link (verification_uri_complete), so approving confirms it matches.
  return browser.post("/device/decision",
                      {{"csrf", csrf_of(consent.text)}, {"decision", decision}, {"code_matches", "yes"}});
}

json jwt_part(const std::string& jwt, int index) {
  std::size_t first = jwt.find('.');
  std::size_t second = jwt.find('.', first + 1);
  std::string part = index == 0 ? jwt.substr(0, first) : jwt.substr(first + 1, second - first - 1);
  auto decoded = core::base64url_decode(part);
  return decoded ? json::parse(*decoded, nullptr, false) : json();
}

// Verifies an ES256 JWS with the JWK's public point, independently of the server's code.
bool verify_es256(const std::string& jwt, const json& jwk) {
  auto x = core::base64url_decode(jwk.value("x", ""));
  auto y = core::base64url_decode(jwk.value("y", ""));
  std::size_t last_dot = jwt.rfind('.');
  auto signature = core::base64url_decode(jwt.substr(last_dot + 1));
  if (!x || !y || !signature || signature->size() != 64) return false;
  std::string point = "\x04" + *x + *y;
  OSSL_PARAM_BLD* builder = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_utf8_string(builder, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
  OSSL_PARAM_BLD_push_octet_string(builder, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(builder);
  EVP_PKEY_CTX* context = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
  EVP_PKEY* key = nullptr;
  bool ok = EVP_PKEY_fromdata_init(context) == 1 &&
            EVP_PKEY_fromdata(context, &key, EVP_PKEY_PUBLIC_KEY, params) == 1;
  EVP_PKEY_CTX_free(context);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(builder);
  if (!ok) return false;
  ECDSA_SIG* sig = ECDSA_SIG_new();
  const auto* raw = reinterpret_cast<const unsigned char*>(signature->data());
  ECDSA_SIG_set0(sig, BN_bin2bn(raw, 32, nullptr), BN_bin2bn(raw + 32, 32, nullptr));
  unsigned char* der = nullptr;
  int der_length = i2d_ECDSA_SIG(sig, &der);
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  std::string input = jwt.substr(0, last_dot);
  ok = EVP_DigestVerifyInit(md, nullptr, EVP_sha256(), nullptr, key) == 1 &&
       EVP_DigestVerify(md, der, static_cast<std::size_t>(der_length),
                        reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  EVP_MD_CTX_free(md);
  OPENSSL_free(der);
  ECDSA_SIG_free(sig);
  EVP_PKEY_free(key);
  return ok;
}

// Runs a login that the browser approves; returns the token response.
json login(const Server& server, httplib::Client& client, const std::string& scope = "openid profile offline_access") {
  Reply code = device_authorization(client, scope);
  EXPECT_EQ(code.status, 200);
  Reply done = decide_in_browser(server, code.body["user_code"], "approve");
  EXPECT_EQ(done.status, 200);
  Reply tokens = poll(client, code.body["device_code"]);
  EXPECT_EQ(tokens.status, 200) << tokens.text;
  return tokens.body;
}

TEST(DevServer, DiscoveryAtBothWellKnownPathsAndJwks) {
  auto server = start();
  ASSERT_TRUE(server);
  auto client = client_for(*server);
  const std::string issuer = server->issuer();
  EXPECT_EQ(issuer, "http://127.0.0.1:" + std::to_string(server->port()));
  for (const char* path : {"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"}) {
    Reply reply = get(*client, path);
    ASSERT_EQ(reply.status, 200) << path;
    EXPECT_EQ(header(reply, "Cache-Control"), "no-store");
    EXPECT_EQ(reply.body["issuer"], issuer);
    EXPECT_EQ(reply.body["device_authorization_endpoint"], issuer + "/device_authorization");
    EXPECT_EQ(reply.body["token_endpoint"], issuer + "/token");
    EXPECT_EQ(reply.body["revocation_endpoint"], issuer + "/revoke");
    EXPECT_EQ(reply.body["introspection_endpoint"], issuer + "/introspect");
    EXPECT_EQ(reply.body["userinfo_endpoint"], issuer + "/userinfo");
    EXPECT_EQ(reply.body["jwks_uri"], issuer + "/jwks");
    EXPECT_EQ(reply.body["grant_types_supported"],
              json({"urn:ietf:params:oauth:grant-type:device_code", "authorization_code", "refresh_token"}));
    EXPECT_EQ(reply.body["authorization_endpoint"], issuer + "/authorize");
    EXPECT_EQ(reply.body["response_types_supported"], json({"code"}));
    EXPECT_EQ(reply.body["code_challenge_methods_supported"], json({"S256"}));
  }
  Reply jwks = get(*client, "/jwks");
  ASSERT_EQ(jwks.status, 200);
  ASSERT_EQ(jwks.body["keys"].size(), 1u);
  EXPECT_EQ(jwks.body["keys"][0]["kty"], "EC");
  EXPECT_EQ(jwks.body["keys"][0]["crv"], "P-256");
  EXPECT_EQ(jwks.body["keys"][0]["alg"], "ES256");
}

TEST(DevServer, DeviceAuthorizationResponseShape) {
  auto server = start();
  ASSERT_TRUE(server);
  auto client = client_for(*server);
  Reply reply = device_authorization(*client);
  ASSERT_EQ(reply.status, 200) << reply.text;
  EXPECT_EQ(header(reply, "Cache-Control"), "no-store");
  const std::string user_code = reply.body["user_code"];
  EXPECT_TRUE(std::regex_match(user_code, std::regex("[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}")))
      << user_code;
  const std::string device_code = reply.body["device_code"];
  EXPECT_GE(device_code.size(), 22u) << "at least 128 bits, base64url";
  EXPECT_EQ(reply.body["verification_uri"], server->issuer() + "/device");
  EXPECT_EQ(reply.body["verification_uri_complete"], server->issuer() + "/device?user_code=" + user_code);
  EXPECT_EQ(reply.body["expires_in"], 600);
  EXPECT_EQ(reply.body["interval"], 5);
  Reply other = device_authorization(*client);
  EXPECT_NE(other.body["device_code"], reply.body["device_code"]);
  EXPECT_NE(other.body["user_code"], reply.body["user_code"]);
}

TEST(DevServer, ClientAuthenticationFailures) {
  ServerOptions options;
  ClientSpec confidential;
  confidential.client_id = "backend";
  confidential.client_secret = Secret(std::string_view("backend-secret"));
  options.clients.push_back(confidential);
  auto server = start(std::move(options));
  ASSERT_TRUE(server);
  auto client = client_for(*server);
  Reply unknown = device_authorization(*client, "openid", "nobody");
  EXPECT_EQ(unknown.status, 401);
  EXPECT_EQ(unknown.body["error"], "invalid_client");
  Reply missing = post_form(*client, "/device_authorization", {{"scope", "openid"}});
  EXPECT_EQ(missing.status, 401);
  Reply no_secret = device_authorization(*client, "openid", "backend");
  EXPECT_EQ(no_secret.status, 401);
  client->set_basic_auth("backend", "wrong");
  Reply wrong = post_form(*client, "/device_authorization", {{"scope", "openid"}});
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(wrong.body["error"], "invalid_client");
  EXPECT_NE(header(wrong, "WWW-Authenticate").find("Basic"), std::string::npos);
  client->set_basic_auth("backend", "backend-secret");
  Reply right = post_form(*client, "/device_authorization", {{"scope", "openid"}});
  EXPECT_EQ(right.status, 200) << right.text;
  Reply both = post_form(*client, "/device_authorization", {{"client_secret", "backend-secret"}});
  EXPECT_EQ(both.status, 400);
  client = client_for(*server);
  Reply post_auth = post_form(*client, "/device_authorization",
                              {{"client_id", "backend"}, {"client_secret", "backend-secret"}});
  EXPECT_EQ(post_auth.status, 200);
  Reply repeated = post_form(*client, "/device_authorization",
                             {{"client_id", "devicelogin-demo"}, {"client_id", "devicelogin-demo"}});
  EXPECT_EQ(repeated.status, 400);
  EXPECT_EQ(repeated.body["error"], "invalid_request");
  Reply bad_grant = post_form(*client, "/token", {{"client_id", "devicelogin-demo"}, {"grant_type", "password"}});
  EXPECT_EQ(bad_grant.body["error"], "unsupported_grant_type");
}

TEST(DevServer, PendingThenSlowDownOnFastPolls) {
  ServerOptions options;
  options.interval = 1;
  ServerClock clock;
  auto server = start(std::move(options), &clock);
  ASSERT_TRUE(server);
  auto client = client_for(*server);
  Reply code = device_authorization(*client);
  EXPECT_EQ(code.body["interval"], 1);
  Reply first = poll(*client, code.body["device_code"]);
  EXPECT_EQ(first.status, 400);
  EXPECT_EQ(first.body["error"], "authorization_pending");
  EXPECT_EQ(header(first, "Cache-Control"), "no-store");
  Reply second = poll(*client, code.body["device_code"]);
  EXPECT_EQ(second.status, 400);
  EXPECT_EQ(second.body["error"], "slow_down");
  // The interval is now 6 s, so a poll 1 s later is still too fast (and makes it 11 s).
  clock.advance(std::chrono::seconds(1));
  Reply third = poll(*client, code.body["device_code"]);
  EXPECT_EQ(third.body["error"], "slow_down");
  // RFC 8628 §3.5: a client that waits the grown interval is pending again.
  clock.advance(std::chrono::seconds(11));
  Reply fourth = poll(*client, code.body["device_code"]);
  EXPECT_EQ(fourth.body["error"], "authorization_pending");
  Reply foreign = poll(*client, "not-a-device-code");
  EXPECT_EQ(foreign.body["error"], "invalid_grant");
}

TEST(DevServer, ApproveInBrowserIssuesSignedTokensOnce) {
  auto server = start();
  ASSERT_TRUE(server);
  auto client = client_for(*server);
  Reply code = device_authorization(*client);
  Reply pending = poll(*client, code.body["device_code"]);
  EXPECT_EQ(pending.body["error"], "authorization_pending");
  // Case-insensitive and hyphen-free entry is accepted too.
  std::string typed = code.body["user_code"];
  typed.erase(typed.find('-'), 1);
  for (char& c : typed) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  Reply done = decide_in_browser(*server, typed, "approve");
  ASSERT_EQ(done.status, 200);
  EXPECT_NE(done.text.find("Device connected"), std::string::npos);

  Reply tokens = poll(*client, code.body["device_code"]);
  ASSERT_EQ(tokens.status, 200) << tokens.text;
  EXPECT_EQ(header(tokens, "Cache-Control"), "no-store");
  EXPECT_EQ(tokens.body["token_type"], "Bearer");
  EXPECT_EQ(tokens.body["expires_in"], 3600);
  EXPECT_EQ(tokens.body["scope"], "openid profile offline_access");
  ASSERT_TRUE(tokens.body["refresh_token"].is_string());
  ASSERT_TRUE(tokens.body["id_token"].is_string());
  const std::string access_token = tokens.body["access_token"];

  json jwks = get(*client, "/jwks").body["keys"][0];
  json header_part = jwt_part(access_token, 0);
  EXPECT_EQ(header_part["typ"], "at+jwt");
  EXPECT_EQ(header_part["alg"], "ES256");
  EXPECT_EQ(header_part["kid"], jwks["kid"]);
  json claims = jwt_part(access_token, 1);
  EXPECT_EQ(claims["iss"], server->issuer());
  EXPECT_EQ(claims["sub"], "alice");
  EXPECT_EQ(claims["client_id"], kDemoClientId);
  EXPECT_EQ(claims["scope"], "openid profile offline_access");
  EXPECT_TRUE(claims.contains("aud") && claims.contains("jti") && claims.contains("iat"));
  EXPECT_EQ(claims["exp"].get<long long>() - claims["iat"].get<long long>(), 3600);
  EXPECT_TRUE(verify_es256(access_token, jwks));
  const std::string id_token = tokens.body["id_token"];
  EXPECT_TRUE(verify_es256(id_token, jwks));
  EXPECT_EQ(jwt_part(id_token, 1)["aud"], kDemoClientId);
  EXPECT_EQ(jwt_part(id_token, 1)["name"], "Alice Example");
  std::string tampered = access_token;
  tampered[tampered.size() - 5] = tampered[tampered.size() - 5] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(verify_es256(tampered, jwks));

  Reply again = poll(*client, code.body["device_code"]);
  EXPECT_EQ(again.status, 400);
  EXPECT_EQ(again.body["error"], "invalid_grant") << "a device code is redeemable once";

  Reply me = get(*client, "/userinfo", {{"Authorization", "Bearer " + access_token}});
  ASSERT_EQ(me.status, 200);
  EXPECT_EQ(me.body, json({{"sub", "alice"}, {"name", "Alice Example"}, {"preferred_username", "alice"}}));
  Reply anonymous = get(*client, "/userinfo");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_NE(header(anonymous, "WWW-Authenticate").find("Bearer"), std::string::npos);
}

TEST(DevServer, NoIdTokenWithoutOpenidScope) {
  auto server = start();
  ASSERT_TRUE(server);
  auto client = client_for(*server);
  json tokens = login(*server, *client, "profile");
  EXPECT_FALSE(tokens.contains("id_token"));
  EXPECT_TRUE(tokens.contains("refresh_token"));
  EXPECT_EQ(tokens["scope"], "profile");
}

TEST(DevServer, DenyGivesAccessDenied) {
  auto server = start();
  ASSERT_TRUE(server);
  auto client = client_for(*server);
  Reply code = device_authorization(*client);
  Reply done = decide_in_browser(*server, code.body["user_code"], "deny", "bob", "bob");
  EXPECT_EQ(done.status, 200);
  EXPECT_NE(done.text.find("Access denied"), std::string::npos);
  Reply denied = poll(*client, code.body["device_code"]);
  EXPECT_EQ(denied.status, 400);
  EXPECT_EQ(denied.body["error"], "access_denied");
}

TEST(DevServer, ExpiredCodeGivesExpiredToken) {
  ServerOptions options;
  options.code_ttl = 60;
  ServerClock clock;
  auto server = start(std::move(options), &clock);
  ASSERT_TRUE(server);
  auto client = client_for(*server);
  Reply code = device_authorization(*client);
  EXPECT_EQ(code.body["expires_in"], 60);
  clock.advance(std::chrono::seconds(59));
  EXPECT_EQ(poll(*client, code.body["device_code"]).body["error"], "authorization_pending");
  clock.advance(std::chrono::seconds(1));
  Reply expired = poll(*client, code.body["device_code"]);
  EXPECT_EQ(expired.status, 400);
  EXPECT_EQ(expired.body["error"], "expired_token");
  // The page refuses it too (and counts a failure).
  Browser browser(*server);
  Reply page = browser.get("/device");
  Reply entered = browser.post("/device", {{"csrf", csrf_of(page.text)}, {"user_code", code.body["user_code"]}});
  EXPECT_EQ(entered.status, 400);
  EXPECT_NE(entered.text.find("Code expired"), std::string::npos);
}

TEST(DevServer, RefreshRotatesAndReuseRevokesTheGrant) {
  ServerOptions options;
  options.auto_approve_delay = 0;
  auto server = start(std::move(options));
  ASSERT_TRUE(server);
  auto client = client_for(*server);
  Reply code = device_authorization(*client);
  Reply tokens = poll(*client, code.body["device_code"]);
  ASSERT_EQ(tokens.status, 200);
  const std::string first_refresh = tokens.body["refresh_token"];

  Reply rotated = refresh(*client, first_refresh);
  ASSERT_EQ(rotated.status, 200) << rotated.text;
  const std::string second_refresh = rotated.body["refresh_token"];
  const std::string second_access = rotated.body["access_token"];
  EXPECT_NE(second_refresh, first_refresh);
  EXPECT_EQ(get(*client, "/userinfo", {{"Authorization", "Bearer " + second_access}}).status, 200);

  Reply narrowed = refresh(*client, second_refresh);
  ASSERT_EQ(narrowed.status, 200);
  const std::string third_refresh = narrowed.body["refresh_token"];
  const std::string third_access = narrowed.body["access_token"];

  // Another client cannot use it.
  Reply foreign = refresh(*client, third_refresh, "someone-else");
  EXPECT_EQ(foreign.status, 401);

  // RFC 9700 §4.14: the rotated-out token comes back -> the whole grant dies.
  Reply reused = refresh(*client, first_refresh);
  EXPECT_EQ(reused.status, 400);
  EXPECT_EQ(reused.body["error"], "invalid_grant");
  EXPECT_EQ(refresh(*client, third_refresh).body["error"], "invalid_grant");
  EXPECT_EQ(get(*client, "/userinfo", {{"Authorization", "Bearer " + third_access}}).status, 401);
  EXPECT_EQ(get(*client, "/userinfo", {{"Authorization", "Bearer " + second_access}}).status, 401);
}

TEST(DevServer, RefreshCannotWidenScope) {
  ServerOptions options;
  options.auto_approve_delay = 0;
  auto server = start(std::move(options));
  ASSERT_TRUE(server);
  auto client = client_for(*server);
  Reply code = device_authorization(*client, "openid offline_access");
  Reply tokens = poll(*client, code.body["device_code"]);
  Reply wider = post_form(*client, "/token", {{"grant_type", "refresh_token"},
                                              {"refresh_token", tokens.body["refresh_token"]},
                                              {"client_id", std::string(kDemoClientId)},
                                              {"scope", "openid admin"}});
  EXPECT_EQ(wider.body["error"], "invalid_scope");
  Reply narrower = post_form(*client, "/token", {{"grant_type", "refresh_token"},
                                                 {"refresh_token", tokens.body["refresh_token"]},
                                                 {"client_id", std::string(kDemoClientId)},
                                                 {"scope", "openid"}});
  EXPECT_EQ(narrower.status, 200) << narrower.text;
  EXPECT_EQ(narrower.body["scope"], "openid");
}

TEST(DevServer, RevocationAndIntrospection) {
  ServerOptions options;
  options.auto_approve_delay = 0;
  ClientSpec resource_server;
  resource_server.client_id = "api";
  resource_server.client_secret = Secret(std::string_view("api-secret"));
  options.clients.push_back(resource_server);
  auto server = start(std::move(options));
  ASSERT_TRUE(server);
  auto client = client_for(*server);
  Reply code = device_authorization(*client);
  json tokens = poll(*client, code.body["device_code"]).body;
  const std::string access_token = tokens["access_token"];
  const std::string refresh_token = tokens["refresh_token"];

  auto introspector = client_for(*server);
  introspector->set_basic_auth("api", "api-secret");
  Reply active = post_form(*introspector, "/introspect", {{"token", access_token}});
  ASSERT_EQ(active.status, 200) << active.text;
  EXPECT_EQ(active.body["active"], true);
  EXPECT_EQ(active.body["client_id"], kDemoClientId);
  EXPECT_EQ(active.body["sub"], "alice");
  EXPECT_EQ(active.body["scope"], "openid profile offline_access");
  Reply refresh_active = post_form(*client, "/introspect",
                                   {{"token", refresh_token}, {"client_id", "api"}, {"client_secret", "api-secret"}});
  EXPECT_EQ(refresh_active.body["active"], true);
  EXPECT_EQ(refresh_active.body["token_type"], "refresh_token");
  Reply unknown = post_form(*introspector, "/introspect", {{"token", "nonsense"}});
  EXPECT_EQ(unknown.status, 200);
  EXPECT_EQ(unknown.body, json({{"active", false}}));
  Reply public_client = post_form(*client, "/introspect", {{"token", access_token}, {"client_id", "devicelogin-demo"}});
  EXPECT_EQ(public_client.status, 401);
  EXPECT_EQ(public_client.body["error"], "invalid_client");

  // RFC 7009: unknown tokens are 200 too; another client's token is left alone.
  EXPECT_EQ(post_form(*client, "/revoke", {{"token", "nonsense"}, {"client_id", "devicelogin-demo"}}).status, 200);
  EXPECT_EQ(post_form(*introspector, "/revoke", {{"token", access_token}}).status, 200);
  EXPECT_EQ(get(*client, "/userinfo", {{"Authorization", "Bearer " + access_token}}).status, 200);

  Reply revoked = post_form(*client, "/revoke", {{"token", access_token},
                                                 {"token_type_hint", "access_token"},
                                                 {"client_id", "devicelogin-demo"}});
  EXPECT_EQ(revoked.status, 200);
  EXPECT_EQ(get(*client, "/userinfo", {{"Authorization", "Bearer " + access_token}}).status, 401);
  EXPECT_EQ(post_form(*introspector, "/introspect", {{"token", access_token}}).body["active"], false);
  EXPECT_EQ(post_form(*introspector, "/introspect", {{"token", refresh_token}}).body["active"], true);
  EXPECT_EQ(post_form(*client, "/revoke", {{"token", refresh_token}, {"client_id", "devicelogin-demo"}}).status, 200);
  EXPECT_EQ(post_form(*introspector, "/introspect", {{"token", refresh_token}}).body["active"], false);
  EXPECT_EQ(refresh(*client, refresh_token).body["error"], "invalid_grant");
}

TEST(DevServer, ApprovalPagePostsNeedCsrfSessionAndOrigin) {
  auto server = start();
  ASSERT_TRUE(server);
  auto client = client_for(*server);
  Reply code = device_authorization(*client);
  const std::string user_code = code.body["user_code"];

  Browser browser(*server);
  Reply page = browser.get("/device");
  ASSERT_EQ(page.status, 200);
  std::string cookie = header(page, "Set-Cookie");
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos);
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos);
  EXPECT_EQ(header(page, "X-Frame-Options"), "DENY");
  EXPECT_EQ(header(page, "Content-Security-Policy").rfind(
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'", 0),
            0u);
  const std::string csrf = csrf_of(page.text);
  ASSERT_FALSE(csrf.empty());

  EXPECT_EQ(browser.post("/device", {{"csrf", "forged"}, {"user_code", user_code}}).status, 403);
  EXPECT_EQ(browser.post("/device", {{"user_code", user_code}}).status, 403);
  browser.set_origin("http://evil.example");
  EXPECT_EQ(browser.post("/device", {{"csrf", csrf}, {"user_code", user_code}}).status, 403);
  browser.set_origin(server->issuer());
  Browser stranger(*server);  // no session cookie at all
  EXPECT_EQ(stranger.post("/device", {{"csrf", csrf}, {"user_code", user_code}}).status, 403);
  EXPECT_EQ(stranger.post("/device/decision", {{"csrf", csrf}, {"decision", "approve"}}).status, 403);

  // Correct token works; a decision without sign-in is refused.
  Reply sign_in = browser.post("/device", {{"csrf", csrf}, {"user_code", user_code}});
  EXPECT_EQ(sign_in.status, 200);
  EXPECT_EQ(browser.post("/device/decision", {{"csrf", csrf}, {"decision", "approve"}}).status, 400);
  Reply wrong_password = browser.post("/device/signin", {{"csrf", csrf}, {"username", "alice"}, {"password", "bob"}});
  EXPECT_EQ(wrong_password.status, 400);
  EXPECT_NE(wrong_password.text.find("Wrong username or password"), std::string::npos);
  EXPECT_EQ(poll(*client, code.body["device_code"]).body["error"], "authorization_pending");
}

TEST(DevServer, ApprovalNeedsAPostAndALinkedCodeIsConfirmedOnce) {
  auto server = start();
  ASSERT_TRUE(server);
  auto client = client_for(*server);
  Reply code = device_authorization(*client);
  const std::string user_code = code.body["user_code"];
  Browser browser(*server);
  Reply page = browser.get("/device?user_code=" + user_code);
  const std::string csrf = csrf_of(page.text);
  ASSERT_EQ(browser.post("/device", {{"csrf", csrf}, {"user_code", user_code}}).status, 200);
  Reply consent = browser.post("/device/signin", {{"csrf", csrf}, {"username", "alice"}, {"password", "alice"}});
  ASSERT_EQ(consent.status, 200);
  EXPECT_NE(consent.text.find("this computer (127.0.0.1)"), std::string::npos);
  EXPECT_NE(consent.text.find("less than a minute ago"), std::string::npos);
  EXPECT_NE(consent.text.find("name=\"code_matches\""), std::string::npos) << "the code came from a link";

  // A GET never decides, even with the session and the decision in the query.
  Reply got = browser.get("/device/decision?decision=approve&csrf=" + csrf + "&code_matches=yes");
  EXPECT_EQ(got.status, 405);
  EXPECT_EQ(header(got, "Allow"), "POST");
  EXPECT_NE(got.text.find("Use the buttons on the page"), std::string::npos);
  EXPECT_EQ(browser.get("/device/signin").status, 405);
  // Approving a linked code without confirming it is refused, and changes nothing.
  Reply unconfirmed = browser.post("/device/decision", {{"csrf", csrf}, {"decision", "approve"}});
  EXPECT_EQ(unconfirmed.status, 400);
  EXPECT_NE(unconfirmed.text.find("Check the box to confirm"), std::string::npos);
  EXPECT_EQ(poll(*client, code.body["device_code"]).body["error"], "authorization_pending");

  Reply approved = browser.post("/device/decision",
                                {{"csrf", csrf}, {"decision", "approve"}, {"code_matches", "yes"}});
  EXPECT_EQ(approved.status, 200);
  // One-time: entering the code again says it was used.
  Reply again = browser.post("/device", {{"csrf", csrf}, {"user_code", user_code}});
  EXPECT_EQ(again.status, 400);
  EXPECT_NE(again.text.find("Code already used"), std::string::npos);
  EXPECT_EQ(poll(*client, code.body["device_code"]).status, 200);

  // A code the user typed (no link) needs no extra confirmation.
  Reply typed_code = device_authorization(*client);
  Browser typist(*server);
  const std::string typist_csrf = csrf_of(typist.get("/device").text);
  ASSERT_EQ(typist.post("/device", {{"csrf", typist_csrf}, {"user_code", typed_code.body["user_code"]}}).status, 200);
  Reply typed_consent =
      typist.post("/device/signin", {{"csrf", typist_csrf}, {"username", "alice"}, {"password", "alice"}});
  EXPECT_EQ(typed_consent.text.find("name=\"code_matches\""), std::string::npos);
  EXPECT_EQ(typist.post("/device/decision", {{"csrf", typist_csrf}, {"decision", "approve"}}).status, 200);
}

TEST(DevServer, WrongUserCodesAreRateLimited) {
  auto server = start();
  ASSERT_TRUE(server);
  auto client = client_for(*server);
  Reply code = device_authorization(*client);
  Browser browser(*server);
  const std::string csrf = csrf_of(browser.get("/device").text);
  for (int attempt = 0; attempt < 5; ++attempt) {
    Reply wrong = browser.post("/device", {{"csrf", csrf}, {"user_code", "BBBB-BBBB"}});
    EXPECT_EQ(wrong.status, 400) << attempt;
  }
  // RFC 8628 §5.1: after 5 failures in a minute even the right code is refused for a while.
  Reply limited = browser.post("/device", {{"csrf", csrf}, {"user_code", code.body["user_code"]}});
  EXPECT_EQ(limited.status, 429);
  EXPECT_NE(limited.text.find("Too many"), std::string::npos);
}

TEST(DevServer, PagesEscapeWhatTheyEcho) {
  auto server = start();
  ASSERT_TRUE(server);
  Browser browser(*server);
  Reply page = browser.get("/device?user_code=%22%3E%3Cscript%3Ex%3C/script%3E");
  ASSERT_EQ(page.status, 200);
  EXPECT_EQ(page.text.find("<script>"), std::string::npos);
  EXPECT_NE(page.text.find("&quot;&gt;&lt;script&gt;"), std::string::npos);
  Reply posted = browser.post("/device", {{"csrf", csrf_of(page.text)}, {"user_code", "<b>'x'</b>"}});
  EXPECT_EQ(posted.text.find("<b>"), std::string::npos);
  EXPECT_NE(posted.text.find("&lt;b&gt;&#39;x&#39;"), std::string::npos);
}

TEST(DevServer, OversizeBodiesAreRejectedAndTheServerKeepsServing) {
  auto server = start();
  ASSERT_TRUE(server);
  auto client = client_for(*server);
  std::string big(100 * 1024, 'a');
  auto huge = client->Post("/token", big, "application/x-www-form-urlencoded");
  ASSERT_TRUE(huge);
  EXPECT_EQ(huge->status, 413);
  auto client2 = client_for(*server);
  auto huge_json = client2->Post("/token", big, "application/json");
  if (huge_json) {
    EXPECT_TRUE(huge_json->status == 413 || huge_json->status == 400) << huge_json->status;
  }
  std::string form = "client_id=devicelogin-demo&scope=" + std::string(9000, 'x');
  auto client3 = client_for(*server);
  auto medium = client3->Post("/device_authorization", form, "application/x-www-form-urlencoded");
  ASSERT_TRUE(medium);
  EXPECT_TRUE(medium->status == 413 || medium->status == 400) << medium->status;
  auto client4 = client_for(*server);
  httplib::Headers many;
  for (int i = 0; i < 100; ++i) many.emplace("X-Filler-" + std::to_string(i), "1");
  auto crowded = client4->Get("/jwks", many);
  ASSERT_TRUE(crowded);
  EXPECT_EQ(crowded->status, 431);
  auto client5 = client_for(*server);
  EXPECT_EQ(get(*client5, "/.well-known/openid-configuration").status, 200);
  EXPECT_EQ(device_authorization(*client5).status, 200);
}

TEST(DevServer, AutoApproveAfterDelay) {
  ServerOptions options;
  options.auto_approve_delay = 2.0;
  options.interval = 0;
  ServerClock clock;
  auto server = start(std::move(options), &clock);
  ASSERT_TRUE(server);
  auto client = client_for(*server);
  Reply code = device_authorization(*client);
  EXPECT_EQ(poll(*client, code.body["device_code"]).body["error"], "authorization_pending");
  clock.advance(std::chrono::milliseconds(1999));
  EXPECT_EQ(poll(*client, code.body["device_code"]).body["error"], "authorization_pending")
      << "approved before the delay";
  clock.advance(std::chrono::milliseconds(1));
  Reply tokens = poll(*client, code.body["device_code"]);
  ASSERT_EQ(tokens.status, 200) << tokens.text;
  json claims = jwt_part(tokens.body["access_token"], 1);
  EXPECT_EQ(claims["sub"], "alice");
  // Approved by the delay, as of the code's issue time plus 2 s.
  EXPECT_EQ(claims["auth_time"], 1'800'000'002);
}

// Every "now" of the protocol is the server's clock: the Date header, token iat/exp and the
// lifetimes of access tokens, refresh tokens and approval-page sessions.
TEST(DevServer, ProtocolTimeIsTheServersClock) {
  ServerOptions options;
  options.auto_approve_delay = 0;
  options.access_token_ttl = 300;
  options.refresh_token_ttl = 3600;
  ClientSpec resource_server;
  resource_server.client_id = "api";
  resource_server.client_secret = Secret(std::string_view("api-secret"));
  options.clients.push_back(resource_server);
  ServerClock clock;  // 1'800'000'000: Fri, 15 Jan 2027 08:00:00 GMT
  auto server = start(std::move(options), &clock);
  ASSERT_TRUE(server);
  auto client = client_for(*server);
  Reply code = device_authorization(*client);
  EXPECT_EQ(header(code, "Date"), "Fri, 15 Jan 2027 08:00:00 GMT");
  clock.advance(std::chrono::seconds(10));
  Reply tokens = poll(*client, code.body["device_code"]);
  ASSERT_EQ(tokens.status, 200) << tokens.text;
  EXPECT_EQ(header(tokens, "Date"), "Fri, 15 Jan 2027 08:00:10 GMT");
  json claims = jwt_part(tokens.body["access_token"], 1);
  EXPECT_EQ(claims["iat"], 1'800'000'010);
  EXPECT_EQ(claims["exp"], 1'800'000'310);
  EXPECT_EQ(jwt_part(tokens.body["id_token"], 1)["iat"], 1'800'000'010);
  const std::string access_token = tokens.body["access_token"];
  const std::string refresh_token = tokens.body["refresh_token"];

  auto introspector = client_for(*server);
  introspector->set_basic_auth("api", "api-secret");
  Reply active = post_form(*introspector, "/introspect", {{"token", access_token}});
  EXPECT_EQ(active.body["iat"], 1'800'000'010);
  EXPECT_EQ(active.body["exp"], 1'800'000'310);
  clock.advance(std::chrono::seconds(299));
  EXPECT_EQ(get(*client, "/userinfo", {{"Authorization", "Bearer " + access_token}}).status, 200);
  clock.advance(std::chrono::seconds(1));
  EXPECT_EQ(get(*client, "/userinfo", {{"Authorization", "Bearer " + access_token}}).status, 401);
  EXPECT_EQ(post_form(*introspector, "/introspect", {{"token", access_token}}).body["active"], false);
  EXPECT_EQ(post_form(*introspector, "/introspect", {{"token", refresh_token}}).body["active"], true);
  clock.advance(std::chrono::seconds(3600 - 300));
  EXPECT_EQ(refresh(*client, refresh_token).body["error"], "invalid_grant") << "the refresh token expired";

  // An approval-page session lasts 15 minutes.
  Reply second_code = device_authorization(*client);
  Browser browser(*server);
  Reply page = browser.get("/device");
  const std::string csrf = csrf_of(page.text);
  clock.advance(std::chrono::seconds(15 * 60 - 1));
  Reply alive = browser.post("/device", {{"csrf", csrf}, {"user_code", "BBBB-BBBB"}});
  EXPECT_EQ(alive.status, 400) << "the session still holds; the code is wrong";
  clock.advance(std::chrono::seconds(1));
  Reply stale = browser.post("/device", {{"csrf", csrf}, {"user_code", second_code.body["user_code"]}});
  EXPECT_EQ(stale.status, 403);
  EXPECT_NE(stale.text.find("This form has expired"), std::string::npos);
}

TEST(DevServer, SlowDownEveryNthPoll) {
  ServerOptions options;
  options.interval = 0;
  options.slow_down_every = 2;
  auto server = start(std::move(options));
  ASSERT_TRUE(server);
  auto client = client_for(*server);
  Reply code = device_authorization(*client);
  EXPECT_EQ(poll(*client, code.body["device_code"]).body["error"], "authorization_pending");
  EXPECT_EQ(poll(*client, code.body["device_code"]).body["error"], "slow_down");
}

TEST(DevServer, FaultKnobs) {
  ServerOptions options;
  options.fail_rate_500 = 1.0;
  auto server = start(std::move(options));
  ASSERT_TRUE(server);
  auto client = client_for(*server);
  for (int i = 0; i < 3; ++i) {
    Reply failed = device_authorization(*client);
    EXPECT_EQ(failed.status, 500);
    EXPECT_EQ(failed.body["error"], "server_error");
    EXPECT_EQ(poll(*client, "x").status, 500);
  }
  EXPECT_EQ(get(*client, "/.well-known/openid-configuration").status, 200);

  ServerOptions unavailable;
  unavailable.fail_rate_503 = 1.0;
  auto server503 = start(std::move(unavailable));
  ASSERT_TRUE(server503);
  auto client503 = client_for(*server503);
  Reply busy = device_authorization(*client503);
  EXPECT_EQ(busy.status, 503);
  EXPECT_EQ(busy.body["error"], "temporarily_unavailable");

  ServerOptions dropping;
  dropping.drop_rate = 1.0;
  auto dropper = start(std::move(dropping));
  ASSERT_TRUE(dropper);
  auto dropped_client = client_for(*dropper);
  auto dropped = dropped_client->Post("/device_authorization", "client_id=devicelogin-demo",
                                      "application/x-www-form-urlencoded");
  EXPECT_FALSE(dropped) << "expected the connection to be closed without an answer";
  EXPECT_EQ(get(*dropped_client, "/jwks").status, 200);

  ServerOptions slow;
  slow.latency_ms = 200;
  auto slow_server = start(std::move(slow));
  ASSERT_TRUE(slow_server);
  auto slow_client = client_for(*slow_server);
  auto before = std::chrono::steady_clock::now();
  EXPECT_EQ(device_authorization(*slow_client).status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - before, std::chrono::milliseconds(200));
}

TEST(DevServer, OutstandingCodesAreBounded) {
  ServerOptions options;
  options.max_outstanding_codes = 2;
  auto server = start(std::move(options));
  ASSERT_TRUE(server);
  auto client = client_for(*server);
  EXPECT_EQ(device_authorization(*client).status, 200);
  EXPECT_EQ(device_authorization(*client).status, 200);
  Reply full = device_authorization(*client);
  EXPECT_EQ(full.status, 503);
  EXPECT_EQ(full.body["error"], "temporarily_unavailable");
}

TEST(DevServer, ConfigFileAddsClientsAndReplacesUsers) {
  char path[] = "/tmp/devserver-config-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  {
    std::ofstream file(path);
    file << R"({"clients":[{"client_id":"tool","name":"My <Tool>","scopes":["openid","read"]}],
               "users":[{"username":"carol","password":"pw","name":"Carol"}]})";
  }
  ServerOptions options;
  options.config_file = path;
  auto server = start(std::move(options));
  std::remove(path);
  ASSERT_TRUE(server);
  auto client = client_for(*server);
  EXPECT_EQ(device_authorization(*client, "openid write", "tool").body["error"], "invalid_scope");
  Reply code = device_authorization(*client, "openid read", "tool");
  ASSERT_EQ(code.status, 200);

  Browser browser(*server);
  Reply page = browser.get("/device");
  Reply sign_in = browser.post("/device", {{"csrf", csrf_of(page.text)}, {"user_code", code.body["user_code"]}});
  EXPECT_NE(sign_in.text.find("My &lt;Tool&gt;"), std::string::npos);
  Reply alice = browser.post("/device/signin", {{"csrf", csrf_of(page.text)}, {"username", "alice"}, {"password", "alice"}});
  EXPECT_EQ(alice.status, 400) << "default users are replaced";
  Reply consent = browser.post("/device/signin", {{"csrf", csrf_of(page.text)}, {"username", "carol"}, {"password", "pw"}});
  ASSERT_EQ(consent.status, 200);
  EXPECT_NE(consent.text.find("<code>read</code>"), std::string::npos);
  EXPECT_NE(consent.text.find("<code>tool</code>"), std::string::npos);
  browser.post("/device/decision", {{"csrf", csrf_of(page.text)}, {"decision", "approve"}});
  Reply tokens = poll(*client, code.body["device_code"], "tool");
  ASSERT_EQ(tokens.status, 200);
  EXPECT_EQ(jwt_part(tokens.body["id_token"], 1)["name"], "Carol");

  ServerOptions bad;
  bad.config_file = "/nonexistent/devserver.json";
  auto refused = Server::start(std::move(bad));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kConfig);
}

TEST(DevServer, StartRefusesBadOptions) {
  ServerOptions public_host;
  public_host.host = "0.0.0.0";
  auto refused = Server::start(public_host);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kConfig);
  ServerOptions bad_rate;
  bad_rate.fail_rate_500 = 1.5;
  EXPECT_FALSE(Server::start(bad_rate));

  auto first = start();
  ASSERT_TRUE(first);
  ServerOptions same_port;
  same_port.port = first->port();
  auto clash = Server::start(same_port);
  ASSERT_FALSE(clash);
  EXPECT_EQ(clash.error().code, ErrorCode::kNetwork);
}

TEST(DevServer, StopIsPromptAndIdempotent) {
  auto server = start();
  ASSERT_TRUE(server);
  auto client = client_for(*server);
  EXPECT_EQ(get(*client, "/jwks").status, 200);
  auto before = std::chrono::steady_clock::now();
  server->stop();
  server->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(3));
  EXPECT_FALSE(get(*client, "/jwks").status == 200);
}

TEST(DevServer, LoopbackHosts) {
  EXPECT_TRUE(is_loopback_host("127.0.0.1"));
  EXPECT_TRUE(is_loopback_host("127.1.2.3"));
  EXPECT_TRUE(is_loopback_host("::1"));
  EXPECT_TRUE(is_loopback_host("[::1]"));
  EXPECT_TRUE(is_loopback_host("localhost"));
  EXPECT_FALSE(is_loopback_host("0.0.0.0"));
  EXPECT_FALSE(is_loopback_host("192.168.1.1"));
  EXPECT_FALSE(is_loopback_host("example.com"));
}

}  // namespace
}  // namespace devicelogin::devserver

namespace devicelogin::devserver {
namespace {

std::string field_of(const std::string& html, const std::string& name) {
  std::smatch match;
  const std::regex pattern("name=\"" + name + "\" value=\"([^\"]+)\"");
  return std::regex_search(html, match, pattern) ? match[1].str() : std::string{};
}

// The code flow through the pages, in process with the server's clock: the session cookie reaches
// both /authorize and the /device forms, the consent page's CSP lets its form redirect to the
// loopback origin (Chromium applies form-action to redirects), and the code expires on the
// server's clock.
TEST(DevServer, AuthorizationCodeThroughThePagesAndItsLifetime) {
  ServerClock clock;
  ServerOptions options;
  options.auth_code_ttl = 30;
  auto server = start(std::move(options), &clock);
  ASSERT_TRUE(server);
  auto client = client_for(*server);
  const std::string verifier(43, 'v');
  // BASE64URL(SHA256("v" x 43)), computed outside this project (Python's hashlib).
  const std::string challenge = "7w_YNF9DSfIdPf_pRjSq646_kPr-2-o9NAl16JGghdM";
  auto approve = [&]() {
    Browser browser(*server);
    Reply sign_in = browser.get("/authorize?response_type=code&client_id=devicelogin-demo&state=xyz"
                                "&redirect_uri=http%3A%2F%2F127.0.0.1%3A5555%2Fcallback&code_challenge_method=S256"
                                "&code_challenge=" + challenge);
    EXPECT_EQ(sign_in.status, 200) << sign_in.text;
    EXPECT_NE(header(sign_in, "Set-Cookie").find("; Path=/;"), std::string::npos);
    Reply consent = browser.post("/device/signin", {{"csrf", csrf_of(sign_in.text)},
                                                   {"auth_request", field_of(sign_in.text, "auth_request")},
                                                   {"username", "alice"},
                                                   {"password", "alice"}});
    EXPECT_EQ(consent.status, 200) << consent.text;
    EXPECT_NE(header(consent, "Content-Security-Policy").find("form-action 'self' http://127.0.0.1:5555;"),
              std::string::npos);
    Reply done = browser.post("/device/decision", {{"csrf", csrf_of(consent.text)},
                                                  {"auth_request", field_of(consent.text, "auth_request")},
                                                  {"decision", "approve"}});
    EXPECT_EQ(done.status, 303);
    std::string location = header(done, "Location");
    EXPECT_TRUE(location.starts_with("http://127.0.0.1:5555/callback?code="));
    EXPECT_NE(location.find("&state=xyz&iss="), std::string::npos);
    std::size_t start_of_code = location.find("code=") + 5;
    return location.substr(start_of_code, location.find('&') - start_of_code);
  };
  auto exchange = [&](const std::string& code) {
    return post_form(*client, "/token", {{"grant_type", "authorization_code"},
                                         {"code", code},
                                         {"code_verifier", verifier},
                                         {"redirect_uri", "http://127.0.0.1:5555/callback"},
                                         {"client_id", std::string(kDemoClientId)}});
  };
  std::string fresh = approve();
  clock.advance(std::chrono::seconds(29));
  Reply tokens = exchange(fresh);
  ASSERT_EQ(tokens.status, 200) << tokens.body.value("error_description", "");
  EXPECT_EQ(jwt_part(tokens.body["id_token"], 1)["sub"], "alice");

  std::string late = approve();
  clock.advance(std::chrono::seconds(30));
  Reply expired = exchange(late);
  EXPECT_EQ(expired.status, 400);
  EXPECT_EQ(expired.body["error"], "invalid_grant");
  EXPECT_EQ(expired.body["error_description"], "the authorization code has expired");
}

// A signed-in browser goes straight to the consent page; a newer request replaces the older one
// in the session, and a decision posted from the older page decides nothing.
TEST(DevServer, AuthorizationRequestsAreBoundToThePageThatShowsThem) {
  auto server = start();
  ASSERT_TRUE(server);
  Browser browser(*server);
  auto authorize = [&](int port) {
    return browser.get("/authorize?response_type=code&client_id=devicelogin-demo&code_challenge_method=S256"
                       "&code_challenge=7w_YNF9DSfIdPf_pRjSq646_kPr-2-o9NAl16JGghdM&redirect_uri=http%3A%2F%2F"
                       "127.0.0.1%3A" + std::to_string(port) + "%2Fcallback");
  };
  Reply sign_in = authorize(6001);
  ASSERT_EQ(sign_in.status, 200);
  EXPECT_EQ(header(sign_in, "Content-Security-Policy").find("127.0.0.1:6001"), std::string::npos)
      << "the sign-in page's form posts to the server only";
  Reply first = browser.post("/device/signin", {{"csrf", csrf_of(sign_in.text)},
                                               {"auth_request", field_of(sign_in.text, "auth_request")},
                                               {"username", "alice"},
                                               {"password", "alice"}});
  ASSERT_EQ(first.status, 200);
  Reply second = authorize(6002);
  ASSERT_EQ(second.status, 200);
  EXPECT_NE(second.text.find(">Approve</button>"), std::string::npos) << "signed in: straight to consent";
  EXPECT_NE(second.text.find("http://127.0.0.1:6002/callback"), std::string::npos);
  EXPECT_NE(header(second, "Content-Security-Policy").find("form-action 'self' http://127.0.0.1:6002;"),
            std::string::npos);
  Reply stale = browser.post("/device/decision", {{"csrf", csrf_of(first.text)},
                                                 {"auth_request", field_of(first.text, "auth_request")},
                                                 {"decision", "approve"}});
  EXPECT_EQ(stale.status, 400);
  EXPECT_EQ(header(stale, "Location"), "");
  Reply current = browser.post("/device/decision", {{"csrf", csrf_of(second.text)},
                                                   {"auth_request", field_of(second.text, "auth_request")},
                                                   {"decision", "deny"}});
  EXPECT_EQ(current.status, 303);
  EXPECT_TRUE(header(current, "Location").starts_with("http://127.0.0.1:6002/callback?error=access_denied&"));
  Reply again = browser.post("/device/decision", {{"csrf", csrf_of(second.text)},
                                                 {"auth_request", field_of(second.text, "auth_request")},
                                                 {"decision", "approve"}});
  EXPECT_EQ(again.status, 400) << "one decision per request";
}

}  // namespace
}  // namespace devicelogin::devserver
