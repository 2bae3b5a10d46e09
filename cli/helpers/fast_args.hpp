#pragma once
// The command line of a helper on the fast path, read without CLI11 (which the `devicelogin`
// executable does not link): `--flag VALUE` or `--flag=VALUE` for the named value flags, the
// named switches, and positional words. Anything else (another flag, a missing value, a flag given
// twice, `--`) makes parse() false, and the command falls through to the full CLI, which parses it
// with CLI11 and explains. So the fast path only ever answers a command line the full CLI would
// read the same way.
#include <initializer_list>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace devicelogin::cli::helpers {

class FastArgs {
 public:
  FastArgs(int argc, char** argv) : argc_(argc), argv_(argv) {}
  // Reads argv from index 2 on (argv[1] is the command); false for anything not listed.
  [[nodiscard]] bool parse(std::initializer_list<std::string_view> value_flags, std::initializer_list<std::string_view> switches);
  // The value of `flag`, or nullopt when it was not given.
  [[nodiscard]] std::optional<std::string_view> value(std::string_view flag) const;
  [[nodiscard]] bool has(std::string_view flag) const { return value(flag).has_value(); }
  [[nodiscard]] const std::vector<std::string_view>& positional() const { return positional_; }
  // `flag`'s value as a whole number of seconds (`fallback` when not given); nullopt when it is
  // not one (the full CLI reports that).
  [[nodiscard]] std::optional<long long> seconds(std::string_view flag, long long fallback) const;

 private:
  int argc_;
  char** argv_;
  std::vector<std::pair<std::string_view, std::string_view>> values_;
  std::vector<std::string_view> positional_;
};

}  // namespace devicelogin::cli::helpers
