#pragma once
// The docker-credential-helpers protocol (github.com/docker/docker-credential-helpers), without
// I/O: what `docker-credential-devicelogin get|store|erase|list|version` reads on stdin and
// writes on stdout, the registry host a server URL names, and the registry -> profile map that
// `devicelogin setup-docker` keeps. Uses std, nlohmann::json and Secret only (no Session, no
// src/), so that the `devicelogin` executable can serve a fresh token without the full CLI.
//
// The protocol, as docker and containers/image (skopeo, podman) speak it:
//  - get, erase: stdin is the server URL (docker sends it without a newline); whitespace around
//    it is not part of it.
//  - store: stdin is {"ServerURL","Username","Secret"} (JSON); both names must be non-empty.
//  - get answers {"ServerURL","Username","Secret"} and a newline on stdout, exit 0.
//  - list answers a JSON object ServerURL -> Username and a newline.
//  - Every failure exits non-zero with its message on stdout. The client recognises three
//    messages by their text (trimmed): kNotFoundMessage (docker then goes on without
//    credentials, as for a registry nobody configured), and the two "missing" ones below.
//    The helper's stderr reaches the user's terminal unchanged.
//  - A Username of "<token>" makes docker take the Secret for an identity token (an OAuth refresh
//    token that docker trades at the registry's token server), never a password: refused here.
#include <cstddef>
#include <expected>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "devicelogin/secret.hpp"

namespace devicelogin::cli {

// The messages docker's client matches (docker-credential-helpers credentials/error.go).
inline constexpr std::string_view kDockerNotFoundMessage = "credentials not found in native keychain";
inline constexpr std::string_view kDockerMissingServerUrlMessage = "no credentials server URL";
inline constexpr std::string_view kDockerMissingUsernameMessage = "no credentials username";
// The Username that turns the Secret into an identity token for docker.
inline constexpr std::string_view kDockerIdentityTokenUsername = "<token>";
// The Username given with the token when setup-docker named none: the name registries that take
// an OAuth 2 access token as the Basic password expect (Google's gcr.io and Artifact Registry);
// any registry that checks only the password accepts it too.
inline constexpr std::string_view kDockerDefaultUsername = "oauth2accesstoken";
// The most stdin a helper reads (Go's bufio.Scanner, which the reference helpers read with, stops
// at 64 KiB lines).
inline constexpr std::size_t kDockerMaxInput = 64 * 1024;
// The longest username setup-docker records.
inline constexpr std::size_t kDockerMaxUsername = 256;

// A TCP port written as 1 to 5 digits with a value of 1..65535, which goes to `value`.
[[nodiscard]] bool parse_port(std::string_view text, unsigned& value);
// A DNS name or IPv4 address in lower case: dot-separated labels of [a-z0-9-] (and '_' when
// `underscore`), none empty, at most 253 characters. Shared by the docker registry and kubectl
// server rules.
[[nodiscard]] bool valid_lower_host_name(std::string_view name, bool underscore);

// Why a helper's input was refused.
enum class DockerInputProblem {
  kMissingServerUrl,  // no server URL (the protocol's own message answers it)
  kMissingUsername,   // store without a Username (likewise)
  kMalformed,         // anything else: too long, NUL or control characters, not the expected JSON
};

struct DockerInputError {
  DockerInputProblem problem = DockerInputProblem::kMalformed;
  std::string message;  // one line, never any part of a secret
};

// The protocol's own message for `problem` (to print on stdout), or empty for kMalformed.
[[nodiscard]] std::string_view docker_protocol_message(DockerInputProblem problem);

// get/erase input: the server URL with surrounding whitespace (and one trailing line break)
// removed. kMissingServerUrl when nothing is left; kMalformed for more than kDockerMaxInput bytes,
// a second line, a NUL or any other control character.
[[nodiscard]] std::expected<std::string, DockerInputError> parse_docker_server_url(std::string_view input);

struct DockerStoreRequest {
  std::string server_url;
  std::string username;
  Secret secret;
};

// store input: one JSON object with string members ServerURL, Username and Secret (names matched
// as Go's encoding/json matches them: exactly, else ignoring case; other members ignored; a
// missing one is empty). kMalformed for more than kDockerMaxInput bytes or anything else;
// kMissingServerUrl / kMissingUsername when those are empty. The parsed copies of the input are
// wiped; the caller wipes `input`.
[[nodiscard]] std::expected<DockerStoreRequest, DockerInputError> parse_docker_store_request(std::string_view input);

// The registry a server URL names, as its credHelpers key and devicelogin's registry map know it:
// the host (lower case) and port, without scheme, path or query. "https://index.docker.io/v1/",
// "index.docker.io", "registry-1.docker.io" and "docker.io" are all "docker.io". nullopt for a
// scheme other than http(s), user:password@, an empty or invalid host or port, or whitespace.
[[nodiscard]] std::optional<std::string> docker_registry_host(std::string_view server_url);

// The credHelpers keys of ~/.docker/config.json under which docker and containers/image look the
// registry up: the host itself, and for docker.io first docker's "https://index.docker.io/v1/"
// (what docker sends for Docker Hub) and then "docker.io" (what skopeo and podman send).
[[nodiscard]] std::vector<std::string> docker_credential_helper_keys(std::string_view registry_host);

// Appends `value` as a JSON string (quotes included) as Go's encoding/json writes it, so that the
// answers match the reference helpers byte for byte: \" \\ \b \f \n \r \t, other control
// characters as \u00XX, <, > and & as \u003c \u003e \u0026, U+2028 and U+2029 escaped, and each
// byte of invalid UTF-8 as \ufffd.
void append_docker_json_string(std::string& out, std::string_view value);
// The same into a Secret (the string is written a piece at a time; no plain copy is made).
void append_docker_json_string(Secret& out, std::string_view value);

// get's answer: {"ServerURL":…,"Username":…,"Secret":…} and a newline.
[[nodiscard]] Secret format_docker_get_answer(std::string_view server_url, std::string_view username, const Secret& secret);

// list's answer: {"URL":"username",…} (keys in byte order, as Go sorts them) and a newline.
[[nodiscard]] std::string format_docker_list(const std::map<std::string, std::string>& usernames);

// version's answer: "docker-credential-devicelogin (devicelogin) VERSION" and a newline.
[[nodiscard]] std::string format_docker_version(std::string_view version);

// What setup-docker records for one registry.
struct DockerRegistryEntry {
  std::string profile;
  std::string username;  // empty: kDockerDefaultUsername
  bool operator==(const DockerRegistryEntry&) const = default;
};
// Registry host (docker_registry_host) -> entry.
using DockerRegistryMap = std::map<std::string, DockerRegistryEntry>;

// The username get answers with for `entry`.
[[nodiscard]] std::string_view docker_username_for(const DockerRegistryEntry& entry);

// Parses the registry map file: {"registries":{"HOST":{"profile":"P","username":"U"}}} ("username"
// optional, other members ignored). An error message (one line, naming what is wrong) for text
// that is not such an object, a key that is not a normalised registry host, an empty profile, or a
// username that is not a valid one (docker_username_problem).
[[nodiscard]] std::expected<DockerRegistryMap, std::string> parse_docker_registry_map(std::string_view text);
// The registry map file's text (2-space indented JSON and a newline).
[[nodiscard]] std::string format_docker_registry_map(const DockerRegistryMap& registries);

// Why `username` cannot be given to docker (empty, longer than kDockerMaxUsername, a control
// character, or "<token>"), or nullopt when it can.
[[nodiscard]] std::optional<std::string> docker_username_problem(std::string_view username);

}  // namespace devicelogin::cli
