#pragma once
// SecretJson: a nlohmann JSON value whose every string lives in wiping storage.
//
// A token response or a stored token set passes through nlohmann's own std::string buffers: the
// lexer's token buffer (reused and regrown for each string it reads), each string value and key,
// and the output string of dump(), which grows by reallocation as it is written. Every one of those
// buffers would be freed with a token still in it. With WipingString as the string type, all of
// them (nlohmann uses its string_t for the lexer buffer, values, keys and dump()'s output) are
// zeroed when released, however the value is copied, moved, grown or destroyed.
//
// Parsing goes through parse_secret_json below (core/json_reader.hpp), not SecretJson::parse:
// nlohmann's lexer also records every character it reads in a std::vector<char> (`token_string`,
// for its error messages), which no allocator parameter reaches and which is freed unwiped with
// the token in it (found by session_test's memory scan).
//
// Header-only: core itself does not link nlohmann; the modules that include this one (oauth, store)
// do.
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <vector>

#include "core/json_reader.hpp"
#include "devicelogin/secret.hpp"

namespace devicelogin::core {

using SecretJson = nlohmann::basic_json<std::map, std::vector, WipingString>;

// Parses `text` (RFC 8259) into a SecretJson, or nullopt when it is not valid JSON.
[[nodiscard]] inline std::optional<SecretJson> parse_secret_json(std::string_view text) {
  return read_json<SecretJson>(text);
}

}  // namespace devicelogin::core
