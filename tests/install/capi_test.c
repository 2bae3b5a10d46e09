/* The C ABI (devicelogin.h) against `devicelogin serve`, compiled as C99 with
 * -Wall -Wextra -Werror by capi_test.sh, which starts the servers and runs one mode each:
 *   capi_test flow ISSUER       sign in (auto-approved), token, refresh, userinfo, status, logout
 *   capi_test expired ISSUER    no approval before the code expires: DL_EXPIRED, nothing stored
 *   capi_test cancel ISSUER     dl_session_cancel from another thread: DL_CANCELLED, nothing stored
 *   capi_test denied ISSUER DENY_COMMAND   the code callback runs DENY_COMMAND URI CODE (presses
 *                               Deny on the approval page): DL_DENIED with oauth error access_denied
 *   capi_test dpop ISSUER       (serve --dpop-nonce) a DPoP-bound login: status token_type and jkt,
 *                               dl_session_request_credentials' proof for a method and URL (ath,
 *                               iat, the server's nonce), dl_session_learn_from_response's nonces
 * HOME and the XDG directories are the wrapper's temporary ones. No token is ever printed. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "devicelogin/devicelogin.h"

static int failures = 0;
#define CHECK(cond, ...)                                    \
  do {                                                      \
    if (!(cond)) {                                          \
      fprintf(stderr, "capi_test:%d: %s: ", __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                         \
      fprintf(stderr, "\n");                                \
      failures++;                                           \
    }                                                       \
  } while (0)

struct observed {
  int codes;
  int waits;
  char user_code[64];
  char uri[512];
  const char* deny_command;
  dl_session* session;  /* when set, on_code reads the code's other fields (dl_session_code_info) */
  char host[256];
  int code_info_matches; /* dl_session_code_info gave the callback's own user code and URI */
};

static void on_code(void* user_data, const char* user_code, const char* verification_uri,
                    const char* verification_uri_complete, long long expires_in) {
  struct observed* seen = user_data;
  seen->codes++;
  snprintf(seen->user_code, sizeof seen->user_code, "%s", user_code);
  snprintf(seen->uri, sizeof seen->uri, "%s", verification_uri_complete[0] ? verification_uri_complete : verification_uri);
  if (seen->session != NULL) {
    const char* host = dl_session_code_info(seen->session, "verification_host");
    snprintf(seen->host, sizeof seen->host, "%s", host != NULL ? host : "(null)");
    const char* code = dl_session_code_info(seen->session, "user_code");
    const char* uri = dl_session_code_info(seen->session, "verification_uri");
    const char* expires = dl_session_code_info(seen->session, "expires_in");
    const char* warning = dl_session_code_info(seen->session, "host_warning");
    seen->code_info_matches = code != NULL && strcmp(code, user_code) == 0 && uri != NULL &&
                              strcmp(uri, verification_uri) == 0 && expires != NULL && atoll(expires) == expires_in &&
                              warning != NULL && dl_session_code_info(seen->session, "no_such_field") == NULL;
  }
  if (seen->deny_command != NULL) {
    char command[1024];
    snprintf(command, sizeof command, "%s '%s' '%s' >/dev/null 2>&1 &", seen->deny_command, seen->uri, seen->user_code);
    CHECK(system(command) == 0, "could not start the deny command");
  }
}

static void on_wait(void* user_data, long long seconds_left) {
  struct observed* seen = user_data;
  seen->waits++;
  (void)seconds_left;
}

static dl_session* open_session(const char* name, const char* issuer) {
  dl_session* session = NULL;
  dl_error* err = NULL;
  int rc = dl_session_open(name, NULL, &session, &err);
  CHECK(rc == DL_OK && session != NULL && err == NULL, "open: %d %s", rc, dl_error_message(err));
  dl_error_free(err);
  if (session == NULL) exit(1);
  CHECK(dl_session_set(session, "issuer", issuer, NULL) == DL_OK, "set issuer");
  CHECK(dl_session_set(session, "client_id", "devicelogin-demo", NULL) == DL_OK, "set client_id");
  CHECK(dl_session_set(session, "scope", "openid profile offline_access", NULL) == DL_OK, "set scope");
  CHECK(dl_session_set(session, "store", "file", NULL) == DL_OK, "set store");
  return session;
}

/* Nothing stored: a token is DL_NOT_LOGGED_IN and no secret comes back. */
static void expect_not_logged_in(dl_session* session, const char* when) {
  char* token = NULL;
  dl_error* err = NULL;
  int rc = dl_session_token(session, 60, &token, NULL, &err);
  CHECK(rc == DL_NOT_LOGGED_IN, "%s: token gave %d, not 5 (%s)", when, rc, dl_error_message(err));
  CHECK(token == NULL, "%s: a token came back with a failure", when);
  CHECK(err != NULL && dl_error_status(err) == DL_NOT_LOGGED_IN, "%s: the error handle's status", when);
  dl_error_free(err);
  dl_secret_free(token);
  char* header = NULL;
  rc = dl_session_authorization(session, 60, &header, NULL, NULL);
  CHECK(rc == DL_NOT_LOGGED_IN && header == NULL, "%s: authorization gave %d, not 5", when, rc);
}

static int flow(const char* issuer) {
  /* Argument errors are DL_USAGE with a message, never a crash. */
  dl_session* bad = NULL;
  dl_error* err = NULL;
  CHECK(dl_session_open("../escape", NULL, &bad, &err) == DL_USAGE && bad == NULL, "an invalid profile name");
  CHECK(err != NULL && strlen(dl_error_message(err)) > 0, "the invalid name has a message");
  dl_error_free(err);
  CHECK(dl_session_open(NULL, NULL, &bad, NULL) == DL_USAGE, "a NULL name");

  dl_session* session = open_session("c-flow", issuer);
  err = NULL;
  CHECK(dl_session_set(session, "colour", "blue", &err) == DL_USAGE, "an unknown setting");
  CHECK(err != NULL && strstr(dl_error_message(err), "colour") != NULL, "the message names the setting");
  dl_error_free(err);
  err = NULL;
  CHECK(dl_session_set(session, "flow", "sideways", &err) == DL_USAGE, "an unknown flow");
  CHECK(err != NULL && strstr(dl_error_message(err), "auto, device or browser") != NULL, "the message names the flows");
  dl_error_free(err);
  CHECK(dl_session_set(session, "browser_timeout", "0", NULL) == DL_USAGE, "a browser timeout of 0");
  CHECK(dl_session_set(session, "browser_timeout", "120", NULL) == DL_OK, "a browser timeout");
  CHECK(dl_session_set_browser_callback(session, NULL, NULL, NULL) == DL_OK, "no browser callback");
  /* This login is the device flow's (the dev server's code is approved below). */
  CHECK(dl_session_set(session, "flow", "device", NULL) == DL_OK, "the device flow");
  CHECK(strlen(dl_version()) >= 5, "dl_version: %s", dl_version());

  expect_not_logged_in(session, "before login");

  struct observed seen = {0};
  seen.session = session;
  CHECK(dl_session_code_info(session, "user_code") == NULL, "no code before a login");
  err = NULL;
  int rc = dl_session_login(session, on_code, on_wait, &seen, &err);
  CHECK(rc == DL_OK, "login: %d %s", rc, dl_error_message(err));
  dl_error_free(err);
  CHECK(seen.codes == 1 && strlen(seen.user_code) == 9, "the code callback ran once with the code (%d)", seen.codes);
  /* The host where the user approves, next to the code: the dev server's own. */
  CHECK(strcmp(seen.host, "127.0.0.1") == 0, "verification_host in on_code: %s", seen.host);
  CHECK(seen.code_info_matches, "dl_session_code_info in on_code gives the callback's code, URI and expiry");
  CHECK(seen.waits >= 1, "the wait callback ran (%d)", seen.waits);

  char* first = NULL;
  size_t length = 0;
  rc = dl_session_token(session, 60, &first, &length, NULL);
  CHECK(rc == DL_OK && first != NULL && length == strlen(first) && length > 20, "token: %d", rc);

  /* The Authorization header value: the scheme of the token's type (the dev server's "Bearer"),
     a space, the same token; its length as dl_session_token's. */
  {
    char* header = NULL;
    size_t header_length = 0;
    rc = dl_session_authorization(session, 60, &header, &header_length, NULL);
    CHECK(rc == DL_OK && header != NULL && first != NULL && strncmp(header, "Bearer ", 7) == 0 &&
              strcmp(header + 7, first) == 0 && header_length == strlen(header),
          "authorization: %d, not \"Bearer \" and the token", rc);
    /* A Bearer token's request credentials: the same Authorization value, no proof. */
    char userinfo[512];
    snprintf(userinfo, sizeof userinfo, "%s/userinfo", issuer);
    char* authorization = NULL;
    char* proof = (char*)"unset";
    rc = dl_session_request_credentials(session, "GET", userinfo, 60, &authorization, &proof, NULL);
    CHECK(rc == DL_OK && authorization != NULL && header != NULL && strcmp(authorization, header) == 0 && proof == NULL,
          "request credentials of a Bearer token: %d", rc);
    dl_secret_free(authorization);
    dl_secret_free(header);
    dl_error* refused = NULL;
    CHECK(dl_session_authorization(session, 60, NULL, NULL, &refused) == DL_USAGE, "authorization into NULL");
    dl_error_free(refused);
  }

  rc = dl_session_refresh(session, NULL);
  CHECK(rc == DL_OK, "refresh: %d", rc);
  char* second = NULL;
  rc = dl_session_token(session, 60, &second, NULL, NULL);
  CHECK(rc == DL_OK && second != NULL && first != NULL && strcmp(first, second) != 0,
        "after refresh, the access token is a new one (%d)", rc);
  dl_secret_free(first);
  dl_secret_free(second);

  char url[512];
  snprintf(url, sizeof url, "%s/userinfo", issuer);
  const char* headers[] = {"Accept: application/json", NULL};
  dl_response* response = NULL;
  rc = dl_session_request(session, "GET", url, headers, NULL, 0, 60, &response, NULL);
  CHECK(rc == DL_OK && response != NULL, "userinfo request: %d", rc);
  if (response != NULL) {
    size_t body_length = 0;
    const char* body = dl_response_body(response, &body_length);
    CHECK(dl_response_status(response) == 200, "userinfo status %d", dl_response_status(response));
    CHECK(strstr(body, "\"sub\":\"alice\"") != NULL && body_length == strlen(body), "userinfo is alice's");
    const char* type = dl_response_header(response, "Content-Type");
    CHECK(type != NULL && strstr(type, "json") != NULL, "the response header is readable");
    dl_response_free(response);
  }

  /* A caller's Authorization (sent next to ours before), Host, a lower-case
     method and a GET with a body are the caller's mistakes: DL_USAGE, nothing sent. */
  {
    const char* steering[][2] = {{"Authorization: Basic eDp5", NULL}, {"Host: other.example.com", NULL},
                                 {"Cookie: a=b", NULL}, {"no colon here", NULL}};
    for (size_t i = 0; i < sizeof steering / sizeof steering[0]; ++i) {
      dl_error* refused = NULL;
      response = NULL;
      rc = dl_session_request(session, "GET", url, steering[i], NULL, 0, 60, &response, &refused);
      CHECK(rc == DL_USAGE && response == NULL, "header %zu: %d (expected DL_USAGE)", i, rc);
      CHECK(refused != NULL && strcmp(dl_error_kind(refused), "usage") == 0, "header %zu: kind %s", i,
            refused != NULL ? dl_error_kind(refused) : "(none)");
      dl_error_free(refused);
    }
    const char* methods[] = {"get", "GE T", ""};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; ++i) {
      dl_error* refused = NULL;
      rc = dl_session_request(session, methods[i], url, NULL, NULL, 0, 60, &response, &refused);
      CHECK(rc == DL_USAGE, "method \"%s\": %d (expected DL_USAGE)", methods[i], rc);
      dl_error_free(refused);
    }
    dl_error* refused = NULL;
    rc = dl_session_request(session, "GET", url, NULL, "x", 1, 60, &response, &refused);
    CHECK(rc == DL_USAGE, "GET with a body: %d (expected DL_USAGE)", rc);
    dl_error_free(refused);
  }

  dl_status* status = NULL;
  rc = dl_session_status(session, &status, NULL);
  CHECK(rc == DL_OK && dl_status_logged_in(status) == 1, "status: %d", rc);
  const char* subject = dl_status_get(status, "subject");
  CHECK(subject != NULL && strcmp(subject, "alice") == 0, "status subject");
  const char* store = dl_status_get(status, "store");
  CHECK(store != NULL && strcmp(store, "file") == 0, "status store");
  const char* expires = dl_status_get(status, "expires_at");
  CHECK(expires != NULL && atoll(expires) > (long long)time(NULL), "status expires_at in the future");
  CHECK(dl_status_get(status, "no_such_field") == NULL, "an unknown status field is NULL");
  CHECK(dl_status_get(status, "jkt") == NULL, "a Bearer token has no key thumbprint");
  dl_status_free(status);

  int revoked = -1;
  rc = dl_session_logout(session, &revoked, NULL);
  CHECK(rc == DL_OK && revoked == 1, "logout: %d revoked %d", rc, revoked);
  expect_not_logged_in(session, "after logout");
  err = NULL;
  rc = dl_session_request(session, "GET", url, NULL, NULL, 0, 60, &response, &err);
  CHECK(rc == DL_NOT_LOGGED_IN && response == NULL, "a request after logout: %d", rc);
  CHECK(err != NULL && strcmp(dl_error_kind(err), "not_logged_in") == 0, "kind %s", dl_error_kind(err));
  CHECK(err != NULL && strcmp(dl_error_remedy(err), "sign_in") == 0, "remedy %s", dl_error_remedy(err));
  CHECK(err != NULL && strcmp(dl_error_profile(err), "c-flow") == 0, "profile %s", dl_error_profile(err));
  dl_error_free(err);
  dl_session_close(session);
  return failures;
}

static int expired(const char* issuer) {
  dl_session* session = open_session("c-expired", issuer);
  struct observed seen = {0};
  dl_error* err = NULL;
  int rc = dl_session_login(session, on_code, on_wait, &seen, &err);
  CHECK(rc == DL_EXPIRED, "login without approval: %d, not 4 (%s)", rc, dl_error_message(err));
  CHECK(err != NULL && strcmp(dl_error_oauth_error(err), "expired_token") == 0, "oauth error %s", dl_error_oauth_error(err));
  dl_error_free(err);
  expect_not_logged_in(session, "after expiry");
  dl_session_close(session);
  return failures;
}

static void* cancel_later(void* session) {
  struct timespec pause = {1, 500000000L};
  nanosleep(&pause, NULL);
  dl_session_cancel(session);
  return NULL;
}

static int cancel(const char* issuer) {
  dl_session* session = open_session("c-cancel", issuer);
  dl_session_cancel(session); /* with no login running: no effect on the next one */
  struct observed seen = {0};
  pthread_t thread;
  CHECK(pthread_create(&thread, NULL, cancel_later, session) == 0, "pthread_create");
  time_t started = time(NULL);
  dl_error* err = NULL;
  int rc = dl_session_login(session, on_code, on_wait, &seen, &err);
  time_t took = time(NULL) - started;
  pthread_join(thread, NULL);
  CHECK(rc == DL_CANCELLED, "a cancelled login: %d, not 130 (%s)", rc, dl_error_message(err));
  CHECK(took >= 1 && took <= 4, "the login ended %lds after start, not about 1.5 s", (long)took);
  CHECK(seen.codes == 1, "the code was shown before the cancel");
  dl_error_free(err);
  expect_not_logged_in(session, "after cancel");
  dl_session_close(session);
  return failures;
}

static int denied(const char* issuer, const char* deny_command) {
  dl_session* session = open_session("c-denied", issuer);
  struct observed seen = {0};
  seen.deny_command = deny_command;
  dl_error* err = NULL;
  int rc = dl_session_login(session, on_code, on_wait, &seen, &err);
  CHECK(rc == DL_DENIED, "a denied login: %d, not 3 (%s)", rc, dl_error_message(err));
  CHECK(err != NULL && strcmp(dl_error_oauth_error(err), "access_denied") == 0, "oauth error %s", dl_error_oauth_error(err));
  dl_error_free(err);
  expect_not_logged_in(session, "after deny");
  dl_session_close(session);
  return failures;
}

/* The JWS part `index` (0 header, 1 payload) of `jwt`, base64url-decoded into `out`. */
static void jwt_part(const char* jwt, int index, char* out, size_t size) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const char* start = jwt;
  for (int i = 0; i < index && start != NULL; ++i) {
    start = strchr(start, '.');
    if (start != NULL) start++;
  }
  size_t used = 0;
  unsigned long bits = 0;
  int count = 0;
  for (const char* c = start; c != NULL && *c != '\0' && *c != '.' && used + 1 < size; ++c) {
    const char* at = strchr(alphabet, *c);
    if (at == NULL) break;
    bits = (bits << 6) | (unsigned long)(at - alphabet);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out[used++] = (char)((bits >> count) & 0xff);
    }
  }
  out[used] = '\0';
}

/* New credentials for `url`; their proof's payload in `payload`. */
static int proof_payload(dl_session* session, const char* method, const char* url, char* payload, size_t size) {
  char* authorization = NULL;
  char* proof = NULL;
  dl_error* err = NULL;
  int rc = dl_session_request_credentials(session, method, url, 60, &authorization, &proof, &err);
  CHECK(rc == DL_OK && authorization != NULL && strncmp(authorization, "DPoP ", 5) == 0 && proof != NULL,
        "request credentials of a DPoP token: %d %s", rc, dl_error_message(err));
  dl_error_free(err);
  payload[0] = '\0';
  if (proof != NULL) {
    char header[1024];
    jwt_part(proof, 0, header, sizeof header);
    CHECK(strstr(header, "\"typ\":\"dpop+jwt\"") != NULL && strstr(header, "\"jwk\"") != NULL &&
              strstr(header, "\"d\"") == NULL,
          "the proof's header: typ dpop+jwt, the public jwk only");
    jwt_part(proof, 1, payload, size);
  }
  dl_secret_free(authorization);
  dl_secret_free(proof);
  return rc;
}

static int dpop(const char* issuer) {
  dl_session* session = open_session("c-dpop", issuer);
  dl_error* err = NULL;
  CHECK(dl_session_set(session, "dpop", "yes", &err) == DL_USAGE, "dpop takes \"1\" or \"0\"");
  dl_error_free(err);
  CHECK(dl_session_set(session, "dpop", "1", NULL) == DL_OK, "set dpop");
  struct observed seen = {0};
  seen.session = session;
  err = NULL;
  int rc = dl_session_login(session, on_code, on_wait, &seen, &err);
  CHECK(rc == DL_OK, "DPoP login: %d %s", rc, dl_error_message(err));
  dl_error_free(err);
  CHECK(strcmp(seen.host, "127.0.0.1") == 0, "verification_host in on_code: %s", seen.host);
  /* After the login, its code stays readable until the next one. */
  const char* host = dl_session_code_info(session, "verification_host");
  CHECK(host != NULL && strcmp(host, "127.0.0.1") == 0, "verification_host after the login");

  dl_status* status = NULL;
  rc = dl_session_status(session, &status, NULL);
  CHECK(rc == DL_OK && dl_status_logged_in(status) == 1, "status: %d", rc);
  const char* type = dl_status_get(status, "token_type");
  CHECK(type != NULL && strcmp(type, "DPoP") == 0, "status token_type %s", type != NULL ? type : "(null)");
  const char* jkt = dl_status_get(status, "jkt");
  CHECK(jkt != NULL && strlen(jkt) == 43, "status jkt (a SHA-256 thumbprint, base64url): %s", jkt != NULL ? jkt : "(null)");
  char thumbprint[64] = "";
  snprintf(thumbprint, sizeof thumbprint, "%s", jkt != NULL ? jkt : "");
  dl_status_free(status);

  char* header = NULL;
  rc = dl_session_authorization(session, 60, &header, NULL, NULL);
  CHECK(rc == DL_OK && header != NULL && strncmp(header, "DPoP ", 5) == 0, "authorization scheme DPoP: %d", rc);
  dl_secret_free(header);

  char userinfo[512];
  snprintf(userinfo, sizeof userinfo, "%s/userinfo", issuer);
  /* The library's own request: signed, and retried once with the server's nonce. */
  dl_response* response = NULL;
  rc = dl_session_request(session, "GET", userinfo, NULL, NULL, 0, 60, &response, NULL);
  CHECK(rc == DL_OK && response != NULL && dl_response_status(response) == 200, "signed userinfo: %d %d", rc,
        response != NULL ? dl_response_status(response) : 0);
  dl_response_free(response);

  /* A proof for this method and URL, with the token's hash, a time and the nonce learned. */
  char payload[2048];
  proof_payload(session, "POST", userinfo, payload, sizeof payload);
  char expected[600];
  snprintf(expected, sizeof expected, "\"htu\":\"%s\"", userinfo);
  CHECK(strstr(payload, "\"htm\":\"POST\"") != NULL && strstr(payload, expected) != NULL, "htm and htu: %s", payload);
  CHECK(strstr(payload, "\"ath\":\"") != NULL && strstr(payload, "\"jti\":\"") != NULL, "ath and jti: %s", payload);
  const char* iat = strstr(payload, "\"iat\":");
  CHECK(iat != NULL && llabs(atoll(iat + 6) - (long long)time(NULL)) < 300, "iat now: %s", payload);
  CHECK(strstr(payload, "\"nonce\":\"") != NULL, "the server's nonce, learned by the request before: %s", payload);

  /* A resource server's use_dpop_nonce challenge: retry, and the next proof carries its nonce. */
  const char* challenge[] = {"WWW-Authenticate: DPoP error=\"use_dpop_nonce\", algs=\"ES256\"",
                             "DPoP-Nonce: capi-test-nonce-1", NULL};
  int retry = -1;
  rc = dl_session_learn_from_response(session, userinfo, 401, challenge, &retry, NULL);
  CHECK(rc == DL_OK && retry == 1, "use_dpop_nonce asks for a retry: %d %d", rc, retry);
  proof_payload(session, "GET", userinfo, payload, sizeof payload);
  CHECK(strstr(payload, "\"nonce\":\"capi-test-nonce-1\"") != NULL, "the challenge's nonce in the next proof: %s", payload);
  /* Any answer may carry a new nonce; it is no reason to retry. */
  const char* rotated[] = {"dpop-nonce:  capi-test-nonce-2 ", NULL};
  rc = dl_session_learn_from_response(session, userinfo, 200, rotated, &retry, NULL);
  CHECK(rc == DL_OK && retry == 0, "a 200 with a nonce: %d %d", rc, retry);
  proof_payload(session, "GET", userinfo, payload, sizeof payload);
  CHECK(strstr(payload, "\"nonce\":\"capi-test-nonce-2\"") != NULL, "the rotated nonce: %s", payload);
  /* Another 401 (invalid_token) is no nonce retry; a challenge without a nonce is the server's fault. */
  const char* invalid[] = {"WWW-Authenticate: DPoP error=\"invalid_token\"", NULL};
  rc = dl_session_learn_from_response(session, userinfo, 401, invalid, &retry, NULL);
  CHECK(rc == DL_OK && retry == 0, "invalid_token: %d %d", rc, retry);
  const char* no_nonce[] = {"WWW-Authenticate: DPoP error=\"use_dpop_nonce\"", NULL};
  err = NULL;
  rc = dl_session_learn_from_response(session, userinfo, 401, no_nonce, &retry, &err);
  CHECK(rc == DL_NETWORK && retry == 0 && err != NULL, "use_dpop_nonce without a nonce: %d", rc);
  dl_error_free(err);
  const char* malformed[] = {"no colon", NULL};
  CHECK(dl_session_learn_from_response(session, userinfo, 401, malformed, &retry, NULL) == DL_USAGE, "a malformed line");

  /* The caller's mistakes, before any token is read: nothing comes back. */
  char* authorization = (char*)"unset";
  char* proof = (char*)"unset";
  err = NULL;
  rc = dl_session_request_credentials(session, "GET", "https://elsewhere.example/", 60, &authorization, &proof, &err);
  CHECK(rc == DL_USAGE && authorization == NULL && proof == NULL, "another origin: %d", rc);
  CHECK(err != NULL && strcmp(dl_error_setting(err), "api_urls") == 0, "the refusal names api_urls");
  dl_error_free(err);
  rc = dl_session_request_credentials(session, "get", userinfo, 60, &authorization, &proof, NULL);
  CHECK(rc == DL_USAGE && authorization == NULL && proof == NULL, "a lower-case method: %d", rc);

  /* The stored key is not reachable through any status field. */
  rc = dl_session_status(session, &status, NULL);
  const char* fields[] = {"profile", "issuer", "client_id", "store", "store_location", "token_type", "scope",
                          "subject", "expires_at", "has_refresh_token", "relogin_required", "relogin_reason",
                          "clock_offset_s", "jkt"};
  for (size_t i = 0; rc == DL_OK && i < sizeof fields / sizeof fields[0]; ++i) {
    const char* value = dl_status_get(status, fields[i]);
    CHECK(value == NULL || (strstr(value, "\"d\"") == NULL && strstr(value, "\"kty\"") == NULL), "field %s", fields[i]);
  }
  dl_status_free(status);

  int revoked = -1;
  rc = dl_session_logout(session, &revoked, NULL);
  CHECK(rc == DL_OK, "logout: %d", rc);
  CHECK(thumbprint[0] != '\0', "a thumbprint was read");
  dl_session_close(session);
  return failures;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: capi_test flow|expired|cancel|denied|dpop ISSUER [DENY_COMMAND]\n");
    return 2;
  }
  const char* mode = argv[1];
  const char* issuer = argv[2];
  int result;
  if (strcmp(mode, "flow") == 0) {
    result = flow(issuer);
  } else if (strcmp(mode, "expired") == 0) {
    result = expired(issuer);
  } else if (strcmp(mode, "cancel") == 0) {
    result = cancel(issuer);
  } else if (strcmp(mode, "dpop") == 0) {
    result = dpop(issuer);
  } else if (strcmp(mode, "denied") == 0 && argc == 4) {
    result = denied(issuer, argv[3]);
  } else {
    fprintf(stderr, "capi_test: unknown mode %s\n", mode);
    return 2;
  }
  if (result == 0) printf("capi_test %s: ok\n", mode);
  return result == 0 ? 0 : 1;
}
