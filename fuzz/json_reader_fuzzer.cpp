// core::read_json, the hand-written JSON reader of the stored token set and of the `token` fast
// path's profile reading, against nlohmann's parser: the same texts accepted, the same values read
// (with and without the profile reading's limits).
#include <nlohmann/json.hpp>

#include "core/json_reader.hpp"
#include "devicelogin/sanitize.hpp"
#include "fuzz_input.hpp"
#include "json_reference.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace devicelogin;
  fuzz::Input in(data, size);
  const std::uint8_t pick = in.byte();
  const std::string_view text = in.rest();
  // Byte 0 picks the limits: none, or those of the profile reading with a small nesting bound.
  core::ReadLimits limits;
  if ((pick & 1) != 0) {
    limits.max_depth = 1 + (pick >> 1) % 8;
    limits.kept_depth = 2;
    limits.left_out_member = "jwks_cache";
  }
  const auto ours = core::read_json<nlohmann::json>(text, limits);
  // The reference trims recursively and dump() recurses: past this depth, compare acceptance only.
  if (!json_nesting_within(text, 200)) {
    const bool refused = nlohmann::json::parse(text, nullptr, false).is_discarded() ||
                         (limits.max_depth != core::ReadLimits{}.max_depth);
    fuzz::check(ours.has_value() != refused);
    return 0;
  }
  const auto reference = testing::read_json_reference(text, limits);
  fuzz::check(ours.has_value() == reference.has_value());
  if (ours && reference) fuzz::check(ours->dump() == reference->dump() && ours->type() == reference->type());
  return 0;
}
