/* devicelogin.h: the stable C ABI of libdevicelogin (C99), for programs in C and for bindings
 * (Python, Go, Rust, Node). It wraps the C++ facade devicelogin::Session; see docs/library.md,
 * "C ABI". No C++ type or exception crosses it.
 *
 * Conventions:
 * - Handles (dl_session, dl_error, dl_response, dl_status) are opaque; each has its _free/_close.
 * - Fallible functions return a status code equal to the exit code of the `devicelogin` command
 *   (DL_OK 0, DL_USAGE 2, DL_DENIED 3, DL_EXPIRED 4, DL_NOT_LOGGED_IN 5, DL_NETWORK 6,
 *   DL_STORAGE 7, DL_CANCELLED 130, DL_OTHER 1). When `err` is not NULL and the call fails,
 *   *err receives an error handle (free it with dl_error_free); on success *err is set to NULL.
 * - Strings are NUL-terminated UTF-8. Secrets (access tokens) come back in buffers the library
 *   allocates; dl_secret_free wipes and frees them.
 * - Thread-safety is stated per function. A dl_session is used by one thread at a time, except
 *   dl_session_cancel, which any thread may call while another runs dl_session_login.
 */
#ifndef DEVICELOGIN_H
#define DEVICELOGIN_H

#include <stddef.h>

#if defined(__GNUC__)
#define DL_API __attribute__((visibility("default")))
#else
#define DL_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes: the `devicelogin` command's exit codes. */
#define DL_OK 0
#define DL_OTHER 1         /* a protocol error ending the operation, or a bug */
#define DL_USAGE 2         /* bad argument, missing or wrong setting, unusable configuration */
#define DL_DENIED 3        /* the user or the server refused the authorization */
#define DL_EXPIRED 4       /* the device code expired before approval */
#define DL_NOT_LOGGED_IN 5 /* nothing stored, or the tokens can no longer be used: sign in again */
#define DL_NETWORK 6       /* connection, TLS, timeout, or a failing server */
#define DL_STORAGE 7       /* token store or profile store failure */
#define DL_CANCELLED 130   /* dl_session_cancel stopped the login */

typedef struct dl_session dl_session;
typedef struct dl_error dl_error;
typedef struct dl_response dl_response;
typedef struct dl_status dl_status;

/* The library's version, "MAJOR.MINOR.PATCH". Thread-safe. */
DL_API const char* dl_version(void);

/* ---- errors ---- */

/* The status code of the failure (as the function returned). Thread-safe for distinct handles. */
DL_API int dl_error_status(const dl_error* error);
/* The error's stable kind: "usage", "configuration", "access_denied", "expired_token",
 * "not_logged_in", "relogin_required", "network", "server", "protocol", "storage", "cancelled",
 * "internal" (finer than the status: 5 is "not_logged_in" or "relogin_required"). Thread-safe
 * (reads the handle only), as are all dl_error_ readers. */
DL_API const char* dl_error_kind(const dl_error* error);
/* One line for humans; never a secret or a response body. Never NULL for a non-NULL error.
 * Thread-safe. */
DL_API const char* dl_error_message(const dl_error* error);
/* The OAuth `error` string the server gave ("access_denied", ...), or "" when none. Thread-safe. */
DL_API const char* dl_error_oauth_error(const dl_error* error);
/* The HTTP status the server gave, or 0. Thread-safe. */
DL_API int dl_error_http_status(const dl_error* error);
/* What the user can do, as a stable name: "none", "sign_in", "fix_settings", "add_settings",
 * "choose_store", "fix_permissions", "try_again_later", "use_browser_flow". Thread-safe. */
DL_API const char* dl_error_remedy(const dl_error* error);
/* The profile the error concerns, or "". Thread-safe. */
DL_API const char* dl_error_profile(const dl_error* error);
/* The setting(s) the remedy names (see docs/library.md, "Errors and remedies"), or "". Thread-safe. */
DL_API const char* dl_error_setting(const dl_error* error);
/* Frees an error handle; NULL is ignored. Thread-safe for distinct handles. */
DL_API void dl_error_free(dl_error* error);

/* ---- secrets ---- */

/* Wipes (overwrites) and frees a secret the library returned; NULL is ignored. Thread-safe. */
DL_API void dl_secret_free(char* secret);

/* ---- sessions ---- */

/* Opens the session of profile `name` (saved or not yet). `profile_directory` may be NULL (the
 * default, $XDG_CONFIG_HOME/devicelogin/profiles). The session uses the default HTTP client.
 * Thread-safe (each call makes its own session). */
DL_API int dl_session_open(const char* name, const char* profile_directory, dl_session** out, dl_error** err);
/* Closes a session and frees it; NULL is ignored. Not while another thread uses the session. */
DL_API void dl_session_close(dl_session* session);

/* Sets one login setting for the next dl_session_login: "provider", "issuer", "tenant",
 * "client_id", "scope", "audience", "store", "ca_file", "client_secret_file",
 * "client_secret_env"; NULL or "" clears it. "dpop": "1" binds the tokens to a key the library
 * makes and keeps with them (DPoP, RFC 9449), "0" does not, NULL or "" leaves it as the saved
 * profile says (off for a new one); another value is DL_USAGE. "flow" is "auto", "device" or
 * "browser" (remembered in the profile; NULL or "": the saved profile's, auto for a new one) and
 * "browser_timeout" the seconds the browser flow waits for the browser (1 to 86400, default 300);
 * a library older than DEVICELOGIN_0.3 answers DL_USAGE to "dpop", "flow" and "browser_timeout".
 * "api_url" is repeatable: each value adds an API base
 * URL to the profile (https, or http on loopback), the only origins besides the userinfo
 * endpoint that dl_session_request sends the token to; NULL or "" clears the added ones.
 * DL_USAGE for an unknown key. Not thread-safe (one thread per session). */
DL_API int dl_session_set(dl_session* session, const char* key, const char* value, dl_error** err);

/* Called once when the code exists: show user_code and verification_uri (or
 * verification_uri_complete, which may be ""). All strings are server text with control
 * characters removed, valid during the call only. Runs on the thread that called login. */
typedef void (*dl_code_callback)(void* user_data, const char* user_code, const char* verification_uri,
                                 const char* verification_uri_complete, long long expires_in);
/* A field of the device code the login running on this session showed (its last login's until
 * the next starts), as text, or NULL for an unknown field or when no code was shown: "user_code",
 * "verification_uri", "verification_uri_complete", "verification_host" (the host where the user
 * approves, lower case, an internationalised name in its xn-- form: show it prominently, so that a
 * page elsewhere stands out), "host_warning" (one sentence when that host deserves a second look,
 * else ""), "message" (the provider's own instructions, may be ""), "expires_in", "interval".
 * Server text with control and bidi characters removed; never a secret. Call it from on_code (the
 * session's thread) to show the host next to the code, with a line such as "Only continue if you
 * started this sign-in. If a website, an e-mail or another person gave you this code, stop."
 * Valid until the next call on the session. Since DEVICELOGIN_0.3. */
DL_API const char* dl_session_code_info(const dl_session* session, const char* field);

/* Called before each wait for the user's approval, with the seconds left before the code
 * expires. Runs on the thread that called login. */
typedef void (*dl_wait_callback)(void* user_data, long long seconds_left);

/* Called once in a browser-flow login, when the loopback listener is ready: open
 * authorization_url in the user's browser on this machine (and show it); the browser comes back to
 * redirect_uri within expires_in seconds. Strings valid during the call only. Runs on the thread
 * that called login. */
typedef void (*dl_browser_callback)(void* user_data, const char* authorization_url, const char* redirect_uri,
                                    long long expires_in);
/* Sets the callback of the browser flow for this session's next logins (NULL: none; the login
 * then waits for a browser the caller opened some other way). Not thread-safe (one thread per
 * session). Since DEVICELOGIN_0.3. */
DL_API int dl_session_set_browser_callback(dl_session* session, dl_browser_callback on_browser, void* user_data,
                                           dl_error** err);

/* Signs in with the profile's flow (see "flow" above: the device flow, or the browser flow whose
 * URL goes to the callback of dl_session_set_browser_callback) and stores the tokens. With
 * server settings (issuer, provider, tenant) set by dl_session_set, the profile is prepared from
 * them; with none, the saved profile signs in again. Either callback may be NULL. DL_DENIED, DL_EXPIRED, DL_CANCELLED, DL_NETWORK,
 * DL_STORAGE, DL_USAGE; nothing is stored on failure. Not thread-safe (one thread per session);
 * see dl_session_cancel. */
DL_API int dl_session_login(dl_session* session, dl_code_callback on_code, dl_wait_callback on_wait, void* user_data,
                            dl_error** err);
/* Makes the dl_session_login running on this session return DL_CANCELLED with nothing stored, at
 * its next wait (a request in flight finishes first, bounded by its timeout). With no login
 * running it has no effect: each login starts uncancelled. Thread-safe and callable from any
 * thread (not async-signal-safe). */
DL_API void dl_session_cancel(dl_session* session);

/* A valid access token, refreshed first when it expires within min_ttl seconds, in *token (free
 * it with dl_secret_free); *length (may be NULL) receives its length. DL_NOT_LOGGED_IN when
 * nothing is stored or the refresh token was rejected. Not thread-safe (one thread per session;
 * sessions of one profile in many threads or processes refresh once together). */
DL_API int dl_session_token(dl_session* session, long long min_ttl, char** token, size_t* length, dl_error** err);
/* The value of an Authorization header for a valid access token, "<scheme> <token>", refreshed
 * first as dl_session_token does, in *authorization (free it with dl_secret_free); *length (may be
 * NULL) receives its length. The scheme is the token's type as the server issued it ("DPoP", ...),
 * with "Bearer" for any case of "bearer" and for an empty or malformed type (RFC 6750 §2.1).
 * A DPoP-bound token also needs a proof for each request: use dl_session_request_credentials.
 * Errors as dl_session_token. Not thread-safe (one thread per session). Since DEVICELOGIN_0.2. */
DL_API int dl_session_authorization(dl_session* session, long long min_ttl, char** authorization, size_t* length,
                                    dl_error** err);
/* What a request to `url` with `method`, sent by the caller's own HTTP client, carries to present
 * a valid access token (refreshed first as dl_session_token does): in *authorization the value of
 * its Authorization header, "<scheme> <token>" ("DPoP" for a token bound to a key), and in
 * *dpop_proof, for a DPoP-bound token, the value of its DPoP header: a proof (RFC 9449) for this
 * one method and URL, with the token's hash, the time on the server's clock and the origin's
 * latest nonce; NULL for a token not bound to a key. Free both with dl_secret_free; a proof is
 * good for one request (make new credentials for each, retries included). DL_USAGE, before any
 * token is read, for a URL dl_session_check_url refuses or a method that is not upper-case
 * letters; DL_NOT_LOGGED_IN as dl_session_token, and when a DPoP token's key is lost (never a
 * Bearer fallback). Send the answer to dl_session_learn_from_response. Not thread-safe (one
 * thread per session). Since DEVICELOGIN_0.3. */
DL_API int dl_session_request_credentials(dl_session* session, const char* method, const char* url, long long min_ttl,
                                          char** authorization, char** dpop_proof, dl_error** err);
/* Learns from the answer to a request sent with dl_session_request_credentials' DPoP proof:
 * `headers` is NULL or a NULL-terminated array of its "Name: value" header lines (WWW-Authenticate
 * and DPoP-Nonce are read; a header sent twice may be given twice). Keeps the DPoP-Nonce it
 * carries for later proofs to its origin. *retry (may be NULL) is 1 when the answer asks for the
 * request again with that nonce (a 401 with WWW-Authenticate: DPoP error="use_dpop_nonce"): make
 * new credentials and send it once more; 0 otherwise. DL_NETWORK when such a challenge carries no
 * valid DPoP-Nonce or is malformed, DL_USAGE for a header line without a colon. Not thread-safe
 * (one thread per session). Since DEVICELOGIN_0.3. */
DL_API int dl_session_learn_from_response(dl_session* session, const char* url, int http_status,
                                          const char* const* headers, int* retry, dl_error** err);
/* Refreshes now and stores the result. Not thread-safe (one thread per session). */
DL_API int dl_session_refresh(dl_session* session, dl_error** err);
/* Revokes the tokens at the server when it can, then deletes them locally. *revoked (may be
 * NULL) is 1 when the server revoked them. Fails only when local deletion failed. Not
 * thread-safe (one thread per session). */
DL_API int dl_session_logout(dl_session* session, int* revoked, dl_error** err);
/* Removes the saved profile (not its tokens: log out first). Not thread-safe (one thread per
 * session). */
DL_API int dl_session_forget(dl_session* session, dl_error** err);

/* Sends an authenticated request: `Authorization: <type> <access token>` (refreshed first when
 * it expires within min_ttl seconds; on a 401 refreshed once and retried). `headers` is NULL or
 * a NULL-terminated array of "Name: value" strings; `body` may be NULL. On DL_OK *response holds
 * the API's answer whatever its HTTP status. DL_USAGE, with nothing sent, for a URL outside the
 * profile's API base URLs and userinfo endpoint, for a header that decides where or as whom the
 * token goes (Host, Authorization, Proxy-Authorization, Cookie, DPoP), a malformed header, a
 * method that is not upper-case letters, or a GET or HEAD with a body. Not thread-safe (one
 * thread per session). */
DL_API int dl_session_request(dl_session* session, const char* method, const char* url, const char* const* headers,
                              const char* body, size_t body_length, long long min_ttl, dl_response** response,
                              dl_error** err);
/* DL_OK when dl_session_request would send the token to `url` (its origin is one of the
 * profile's API base URLs or its userinfo endpoint); otherwise DL_USAGE with the error it would
 * fail with (remedy "add_settings", setting "api_urls"). For callers that send the token with
 * their own HTTP client (the Python package's requests and httpx adapters). Reads nothing but the
 * session's profile. Not thread-safe (one thread per session). */
DL_API int dl_session_check_url(dl_session* session, const char* url, dl_error** err);
/* The HTTP status of a response. Thread-safe (reads the handle only). */
DL_API int dl_response_status(const dl_response* response);
/* The first header with this name (case-insensitive), or NULL. Thread-safe. */
DL_API const char* dl_response_header(const dl_response* response, const char* name);
/* The body (not NUL-terminated inside; a NUL follows it) and its length (may be NULL). It may
 * hold secrets: it is wiped by dl_response_free. Thread-safe. */
DL_API const char* dl_response_body(const dl_response* response, size_t* length);
/* Wipes the body and frees the response; NULL is ignored. Thread-safe for distinct handles. */
DL_API void dl_response_free(dl_response* response);

/* What is stored and whether it is usable, in *status. DL_NOT_LOGGED_IN when the profile was
 * never saved. Not thread-safe (one thread per session). */
DL_API int dl_session_status(dl_session* session, dl_status** status, dl_error** err);
/* 1 when a usable token set is stored, 0 otherwise. Thread-safe. */
DL_API int dl_status_logged_in(const dl_status* status);
/* A field of the status as text, or NULL when unknown: "profile", "issuer", "client_id",
 * "store", "store_location", "token_type", "scope", "subject", "expires_at" (Unix seconds),
 * "has_refresh_token" ("1"/"0"), "relogin_required" ("1"/"0"), "relogin_reason",
 * "clock_offset_s", "jkt" (the RFC 7638 thumbprint of the DPoP key the token is bound to; NULL
 * for a token not bound to a key). Never a secret: not the key itself. Valid until the status is freed or the next dl_status_get call
 * on it. Not thread-safe on one handle (it renders numbers into the handle). */
DL_API const char* dl_status_get(const dl_status* status, const char* field);
/* Frees a status; NULL is ignored. Thread-safe for distinct handles. */
DL_API void dl_status_free(dl_status* status);

#ifdef __cplusplus
}
#endif

#endif /* DEVICELOGIN_H */
