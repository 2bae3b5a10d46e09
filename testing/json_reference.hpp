#pragma once
// What core::read_json must give for a text, computed with nlohmann's own parser: the reference
// its differential test (tests/unit/core/json_reader_test.cpp) and fuzz target
// (fuzz/json_reader_fuzzer.cpp) compare it with. nullopt where the text is refused.
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "core/json_reader.hpp"
#include "devicelogin/sanitize.hpp"

namespace devicelogin::testing {

namespace json_reference_detail {
// `value` (at `depth` containers down) with what limits leave out removed.
inline void trim(nlohmann::json& value, std::size_t depth, const core::ReadLimits& limits) {
  if (!value.is_structured()) return;
  if (depth >= limits.kept_depth) {
    value = value.is_object() ? nlohmann::json::object() : nlohmann::json::array();
    return;
  }
  if (depth == 0 && value.is_object() && !limits.left_out_member.empty()) value.erase(std::string(limits.left_out_member));
  for (auto& item : value) trim(item, depth + 1, limits);
}
}  // namespace json_reference_detail

inline std::optional<nlohmann::json> read_json_reference(std::string_view text, const core::ReadLimits& limits) {
  // json_nesting_within counts brackets outside strings, which for a valid text is its depth.
  if (limits.max_depth != core::ReadLimits{}.max_depth && !json_nesting_within(text, limits.max_depth)) return std::nullopt;
  nlohmann::json value = nlohmann::json::parse(text, nullptr, false);
  if (value.is_discarded()) return std::nullopt;
  json_reference_detail::trim(value, 0, limits);
  return value;
}

}  // namespace devicelogin::testing
