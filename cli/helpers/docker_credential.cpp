// docker's credential helper protocol (docker_protocol.hpp): `devicelogin docker-credential
// get|store|erase|list|version`, which docker, skopeo and podman run as
// `docker-credential-devicelogin OP` (a symlink to the devicelogin executable, whose main turns
// the name into this command).
//
// Where the registry -> profile map lives: its own small file,
// $XDG_CONFIG_HOME/devicelogin/docker-registries.json, not the profiles' api_urls. api_urls are the
// origins `devicelogin api` may send the token to as a bearer token; a registry named there would
// widen that rule as a side effect. One file also lets `get` find its profile with one read (no
// scan of every profile), which the fast path needs.
#include "core/fs.hpp"
#include "helpers.hpp"
#include "shown.hpp"

namespace devicelogin::cli::helpers {

namespace {

Error error_of(ErrorCode code, std::string message) { return Error{code, std::move(message), "", 0}; }

Outcome failed(const SourceProblem& problem) {
  if (problem.fall_through) return Outcome::fall_through();
  return Outcome::failure(problem.error);
}

// A refused input: the protocol's own message on stdout when it has one (the client recognises
// it), one line on stderr, exit 2.
Outcome input_failure(const DockerInputError& error) {
  Outcome outcome = Outcome::failure(error_of(ErrorCode::kUsage, error.message));
  if (auto message = docker_protocol_message(error.problem); !message.empty()) {
    outcome.out.append(message);
    outcome.out.append("\n");
  }
  return outcome;
}

// No credentials here: the message docker's client recognises, exit 1. Docker then goes on
// without credentials, as for a registry no helper knows.
Outcome not_found() {
  Secret out(kDockerNotFoundMessage);
  out.append("\n");
  return Outcome::not_mine(std::move(out), 1);
}

constexpr std::string_view kMapName = "docker-registries.json";

}  // namespace

Result<std::string> docker_registry_map_path() {
  auto config = core::xdg_directory("XDG_CONFIG_HOME", ".config");
  if (!config) return std::unexpected(config.error());
  return *config + "/devicelogin/" + std::string(kMapName);
}

Result<DockerRegistryMap> load_docker_registry_map() {
  auto path = docker_registry_map_path();
  if (!path) return std::unexpected(path.error());
  auto text = core::read_private_file(*path, "the docker registry map");
  if (!text) return std::unexpected(text.error());
  if (!*text) return DockerRegistryMap{};
  auto registries = parse_docker_registry_map(**text);
  if (!registries) {
    return std::unexpected(error_of(ErrorCode::kConfig, "the docker registry map " + *path + " is malformed (" +
                                                            registries.error() + "); fix or remove it"));
  }
  return std::move(*registries);
}

Result<void> save_docker_registry_map(const DockerRegistryMap& registries) {
  auto path = docker_registry_map_path();
  if (!path) return std::unexpected(path.error());
  auto directory = core::PrivateDirectory::open(path->substr(0, path->rfind('/')), true);
  if (!directory) return std::unexpected(directory.error());
  return (*directory)->write_file_atomically(kMapName, format_docker_registry_map(registries));
}

Outcome docker_credential(const DockerCredentialArgs& args, Input& input, TokenSource& source) {
  const std::string& op = args.operation;
  if (op.empty() && !args.version) {
    return Outcome::failure(error_of(ErrorCode::kUsage, "no operation (expected get, store, erase, list or version)"));
  }
  if (op == "version" || (op.empty() && args.version)) return Outcome::answer(Secret(format_docker_version(DEVICELOGIN_VERSION)));
  if (op != "get" && op != "store" && op != "erase" && op != "list") {
    return {Outcome::Kind::kError, {}, 0,
            error_of(ErrorCode::kUsage, "unknown operation \"" + shown_word(op) + "\" (expected get, store, erase, list or version)")};
  }
  if (args.min_ttl < 0) return Outcome::failure(error_of(ErrorCode::kUsage, "--min-ttl must be 0 or more seconds"));
  if (op == "list") {
    // (docker writes a word on stdin for list; it means nothing)
    auto registries = load_docker_registry_map();
    if (!registries) return Outcome::failure(registries.error());
    std::map<std::string, std::string> usernames;
    for (const auto& [host, entry] : *registries) {
      usernames[docker_credential_helper_keys(host).front()] = std::string(docker_username_for(entry));
    }
    return Outcome::answer(Secret(format_docker_list(usernames)));
  }
  const std::string_view text = input.read(kDockerMaxInput, false);
  if (text.size() > kDockerMaxInput) return input_failure({DockerInputProblem::kMalformed, "more than 64 KiB of input"});
  if (op == "store") {
    // docker stores what `docker login` was given. Accepted and dropped: the token this helper
    // answers with lives in the profile's store, and the password typed there is not kept.
    auto request = parse_docker_store_request(text);
    if (!request) return input_failure(request.error());
    return {};
  }
  auto server_url = parse_docker_server_url(text);
  if (!server_url) return input_failure(server_url.error());
  const auto host = docker_registry_host(*server_url);
  if (!host) {
    return input_failure({DockerInputProblem::kMalformed, "not a registry server URL: \"" + shown_word(*server_url) + "\""});
  }
  auto registries = load_docker_registry_map();
  if (!registries) return Outcome::failure(registries.error());
  const auto entry = registries->find(*host);
  // A registry setup-docker did not name for a profile: nothing here, so docker asks no one else
  // for it and goes on without credentials.
  if (entry == registries->end()) return not_found();
  // Never an interactive login from inside docker: a login that is needed is one line on stderr
  // naming the command to run (exit 5), and docker's command fails with it.
  if (op == "erase") {
    // `docker logout`: the token docker held is replaced by a refreshed one; the login is kept
    // (`devicelogin logout` ends it). Nothing to erase when nothing is stored.
    auto refreshed = source.refresh_if_stored(entry->second.profile);
    if (!refreshed) return failed(refreshed.error());
    if (!*refreshed) return not_found();
    return {};
  }
  source.set_audit_consumer("docker", *host);
  auto token = source.access_token(entry->second.profile, args.min_ttl);
  if (!token) return failed(token.error());
  if (auto refused = bearer_only(*token, "docker")) return Outcome::failure(std::move(*refused));
  return Outcome::answer(format_docker_get_answer(*server_url, docker_username_for(entry->second), token->value));
}

std::optional<DockerCredentialArgs> docker_credential_fast_args(int argc, char** argv) {
  FastArgs args(argc, argv);
  if (!args.parse({"--min-ttl"}, {}) || args.positional().size() != 1) return std::nullopt;
  DockerCredentialArgs parsed;
  const auto min_ttl = args.seconds("--min-ttl", parsed.min_ttl);
  if (!min_ttl) return std::nullopt;
  parsed.min_ttl = *min_ttl;
  parsed.operation = std::string(args.positional()[0]);
  return parsed;
}

}  // namespace devicelogin::cli::helpers
