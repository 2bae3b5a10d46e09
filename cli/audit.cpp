// `devicelogin audit [--profile P] [--since DURATION] [--json]`: the audit trail
// (devicelogin/advanced/audit.hpp), as a table on stderr or as its JSON lines on stdout.
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "commands.hpp"
#include "devicelogin/advanced/audit.hpp"
#include "devicelogin/sanitize.hpp"
#include "output.hpp"

namespace devicelogin::cli {
namespace {

struct AuditArgs {
  std::string profile;  // empty: every profile
  std::string since;    // empty: all
  bool json = false;
};

// "90s", "15m", "1h", "7d" (or a bare number of seconds) in seconds; nullopt when malformed.
std::optional<long long> parse_duration(const std::string& text) {
  if (text.empty()) return std::nullopt;
  long long unit = 1;
  std::string_view digits = text;
  switch (text.back()) {
    case 's': unit = 1; digits.remove_suffix(1); break;
    case 'm': unit = 60; digits.remove_suffix(1); break;
    case 'h': unit = 3600; digits.remove_suffix(1); break;
    case 'd': unit = 86400; digits.remove_suffix(1); break;
    default: break;
  }
  long long value = 0;
  const auto [end, problem] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || problem != std::errc() || end != digits.data() + digits.size() || value < 0 ||
      value > 100LL * 365 * 86400 / unit) {
    return std::nullopt;
  }
  return value * unit;
}

std::string field(const nlohmann::json& record, const char* name) {
  const auto found = record.find(name);
  if (found == record.end()) return {};
  if (found->is_string()) return sanitize_text(found->get_ref<const std::string&>());
  if (found->is_boolean()) return found->get<bool>() ? "yes" : "no";
  if (found->is_number_integer()) return std::to_string(found->get<long long>());
  return {};
}

std::string pad(std::string text, std::size_t width) {
  if (text.size() > width) text = text.substr(0, width - 1) + "~";
  text.resize(width, ' ');
  return text;
}

int run_audit(const AuditArgs& args) {
  std::optional<long long> since_ts;
  if (!args.since.empty()) {
    const auto seconds = parse_duration(args.since);
    if (!seconds) {
      return report_error("audit", Error{ErrorCode::kUsage, "--since needs a duration such as 90s, 15m, 1h or 7d, got \"" +
                                                                sanitize_text(args.since) + "\"", "", 0});
    }
    since_ts = static_cast<long long>(std::time(nullptr)) - *seconds;
  }
  auto lines = audit_log_lines();
  if (!lines) return report_error("audit", lines.error());
  std::vector<nlohmann::json> records;
  for (const std::string& line : *lines) {
    auto record = nlohmann::json::parse(line, nullptr, false);
    if (!record.is_object()) continue;  // not a record (a line cut short by a full disk)
    const auto ts = record.find("ts");
    if (ts == record.end() || !ts->is_number_integer()) continue;
    if (since_ts && ts->get<long long>() < *since_ts) continue;
    if (!args.profile.empty()) {
      const auto profile = record.find("profile");
      if (profile == record.end() || !profile->is_string() || *profile != args.profile) continue;
    }
    records.push_back(std::move(record));
  }
  // Files are read oldest first; a writer that held a file across its rotation may have put a
  // line out of order, which the time puts back (stable: lines of one second keep their order).
  std::stable_sort(records.begin(), records.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
    return a["ts"].get<long long>() < b["ts"].get<long long>();
  });
  if (args.json) {
    for (const auto& record : records) emit_json(record);
    return 0;
  }
  if (records.empty()) {
    say("No audit records" + std::string(args.profile.empty() ? "" : " for profile " + args.profile) +
        (args.since.empty() ? "" : " in the last " + args.since) + ".");
    return 0;
  }
  say(pad("TIME", 21) + pad("EVENT", 9) + pad("PROFILE", 12) + pad("CONSUMER", 9) + pad("DETAIL", 24) +
      pad("PID", 8) + pad("PROGRAM", 24) + pad("TOKEN", 18) + pad("REFRESHED", 10) + "OUTCOME");
  for (const auto& record : records) {
    std::string program = field(record, "exe");
    program = program.substr(program.rfind('/') == std::string::npos ? 0 : program.rfind('/') + 1);
    std::string parent = field(record, "parent_exe");
    parent = parent.substr(parent.rfind('/') == std::string::npos ? 0 : parent.rfind('/') + 1);
    if (!parent.empty()) program += " < " + parent;
    std::string outcome = field(record, "outcome");
    if (const std::string reason = field(record, "reason"); !reason.empty()) outcome += ": " + reason;
    say(pad(field(record, "time"), 21) + pad(field(record, "event"), 9) + pad(field(record, "profile"), 12) +
        pad(field(record, "consumer"), 9) + pad(field(record, "detail"), 24) + pad(field(record, "pid"), 8) +
        pad(program, 24) + pad(field(record, "token_id"), 18) + pad(field(record, "refreshed"), 10) + outcome);
  }
  return 0;
}

}  // namespace

void setup_audit(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<AuditArgs>();
  CLI::App* cmd = app.add_subcommand("audit", "Show the audit trail: every token hand-out, login, refresh and logout");
  cmd->add_option("--profile", args->profile, "Only this profile's records")->type_name("NAME");
  cmd->add_option("--since", args->since, "Only records of the last DURATION (90s, 15m, 1h, 7d)")->type_name("DURATION");
  add_json_flag(*cmd, args->json, true);
  cmd->callback([args, &exit_code] { exit_code = run_audit(*args); });
}

}  // namespace devicelogin::cli
