#pragma once
// Edits of docker's client configuration (~/.docker/config.json, or $DOCKER_CONFIG/config.json)
// for `devicelogin setup-docker`, without I/O: the "credHelpers" entries that make docker (and
// skopeo, podman) run docker-credential-HELPER for a registry. Every other member is kept, in its
// order; the text is written as docker writes it (tab-indented).
#include <expected>
#include <string>
#include <string_view>
#include <vector>

namespace devicelogin::cli {

struct DockerConfigEdit {
  std::string text;      // the new file content
  bool changed = false;  // false when the file already says this (nothing to write)
};

// Sets "credHelpers": {KEY: helper} for every key of `keys` in the config `text` (empty or blank
// text: no file yet). An error (one line, without the file's content) when `text` is not a JSON
// object or its credHelpers is not an object.
[[nodiscard]] std::expected<DockerConfigEdit, std::string> add_docker_credential_helpers(
    std::string_view text, const std::vector<std::string>& keys, std::string_view helper);
// Removes the credHelpers entries of `keys` that name `helper` (another helper's entry is left),
// and credHelpers itself when that leaves it empty. Errors as above.
[[nodiscard]] std::expected<DockerConfigEdit, std::string> remove_docker_credential_helpers(
    std::string_view text, const std::vector<std::string>& keys, std::string_view helper);

}  // namespace devicelogin::cli
