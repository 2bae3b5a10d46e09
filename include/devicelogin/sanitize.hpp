#pragma once
#include <cstddef>
#include <string>
#include <string_view>

#include "devicelogin/export.hpp"

namespace devicelogin {
// Removes control characters (C0, DEL, C1) and the characters that draw nothing yet hide or
// reorder text (Unicode's default-ignorable code points: zero-width spaces and joiners, bidi marks,
// embeddings, overrides and isolates, BOM, soft hyphen, tags...; the line and paragraph
// separators) from server-supplied text before it reaches a terminal or a JSON event; everything
// else passes unchanged.
[[nodiscard]] DEVICELOGIN_API std::string sanitize_text(std::string_view text);

// The deepest nesting of arrays and objects that the library, the CLI and the dev server accept in
// a JSON document from outside (server answers, profile and helper files, environment variables):
// the formats read here nest a few levels, and a copy or dump of a document nested thousands of
// levels deep would exhaust the stack.
inline constexpr std::size_t kMaxJsonNesting = 64;
// True when no array or object in `json_text` nests deeper than `max_depth` (brackets inside
// strings do not count); the text need not be valid JSON. One pass, no allocation.
[[nodiscard]] DEVICELOGIN_API bool json_nesting_within(std::string_view json_text,
                                                       std::size_t max_depth = kMaxJsonNesting) noexcept;
}  // namespace devicelogin
