#include "fast_args.hpp"

#include <charconv>

namespace devicelogin::cli::helpers {

bool FastArgs::parse(std::initializer_list<std::string_view> value_flags, std::initializer_list<std::string_view> switches) {
  for (int i = 2; i < argc_; ++i) {
    const std::string_view arg = argv_[i];
    if (arg == "--") return false;
    if (!arg.starts_with("-")) {
      positional_.push_back(arg);
      continue;
    }
    bool known = false;
    for (std::string_view flag : switches) {
      if (arg == flag) {
        values_.emplace_back(flag, "");
        known = true;
      }
    }
    for (std::string_view flag : value_flags) {
      if (known) break;
      if (arg == flag && i + 1 < argc_) {
        values_.emplace_back(flag, argv_[++i]);
        known = true;
      } else if (arg.size() > flag.size() + 1 && arg.starts_with(flag) && arg[flag.size()] == '=') {
        values_.emplace_back(flag, arg.substr(flag.size() + 1));
        known = true;
      }
    }
    if (!known) return false;
    // A flag given twice: the full CLI refuses a repeated option, so the fast path must not pick
    // one of the two values.
    for (std::size_t j = 0; j + 1 < values_.size(); ++j) {
      if (values_[j].first == values_.back().first) return false;
    }
  }
  return true;
}

std::optional<std::string_view> FastArgs::value(std::string_view flag) const {
  for (const auto& [name, value] : values_) {
    if (name == flag) return value;
  }
  return std::nullopt;
}

std::optional<long long> FastArgs::seconds(std::string_view flag, long long fallback) const {
  auto text = value(flag);
  if (!text) return fallback;
  long long seconds = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), seconds);
  if (ec != std::errc{} || end != text->data() + text->size()) return std::nullopt;
  return seconds;
}

}  // namespace devicelogin::cli::helpers
