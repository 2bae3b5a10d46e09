// core::read_json, the hand-written JSON reader of the stored token set and of the `token` fast
// path's profile reading, against nlohmann's parser: the same texts accepted, the same values read
// (with and without the profile reading's limits), and its members one by one the same.
#include <nlohmann/json.hpp>

#include "core/json_reader.hpp"
#include "devicelogin/sanitize.hpp"
#include "fuzz_input.hpp"
#include "json_reference.hpp"

namespace {
// Gathers what read_json_members gives into an object, as read_json would have.
class Gather final : public devicelogin::core::JsonMemberSink<nlohmann::json> {
 public:
  void member(std::string& name, nlohmann::json&& value) override { members[name] = std::move(value); }
  nlohmann::json members = nlohmann::json::object();
};
}  // namespace

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
  // The members one by one (the profile reading's way) are the object's members.
  Gather sink;
  const auto root = core::read_json_members<nlohmann::json>(text, limits, sink);
  fuzz::check(root.has_value() == ours.has_value());
  if (root && ours && ours->is_object() && json_nesting_within(text, 200)) fuzz::check(sink.members == *ours);
  // The reference trims recursively and dump() recurses: past this depth, compare acceptance only.
  if (!json_nesting_within(text, 200)) {
    const bool refused = nlohmann::json::parse(text, nullptr, false).is_discarded() ||
                         (limits.max_depth != core::ReadLimits{}.max_depth);
    fuzz::check(ours.has_value() != refused);
    return 0;
  }
  // The scanner (no document) refuses what the reader refuses, and its members' texts are the
  // reader's members.
  nlohmann::json scanned = nlohmann::json::object();
  const auto scanned_root = core::JsonScanner(text, limits.max_depth).scan([&](std::string_view name, std::string_view value) {
    auto parsed = nlohmann::json::parse(value, nullptr, false);
    fuzz::check(!parsed.is_discarded());
    scanned[std::string(name)] = std::move(parsed);
  });
  const auto unlimited = core::read_json<nlohmann::json>(text, core::ReadLimits{.max_depth = limits.max_depth, .kept_depth = core::ReadLimits{}.kept_depth, .left_out_member = {}});
  fuzz::check((scanned_root != core::JsonScanner::Root::kInvalid) == unlimited.has_value());
  if (unlimited) fuzz::check((scanned_root == core::JsonScanner::Root::kObject) == unlimited->is_object());
  if (unlimited && unlimited->is_object()) fuzz::check(scanned == *unlimited);
  const auto reference = testing::read_json_reference(text, limits);
  fuzz::check(ours.has_value() == reference.has_value());
  if (ours && reference) fuzz::check(ours->dump() == reference->dump() && ours->type() == reference->type());
  return 0;
}
