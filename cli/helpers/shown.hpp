#pragma once
// A word from the command line or the input as an error line quotes it: control characters
// removed and cut to 80 bytes ("..." marks the cut). Never a secret: only flags and protocol words
// are shown.
#include <string>
#include <string_view>

#include "devicelogin/sanitize.hpp"

namespace devicelogin::cli {

[[nodiscard]] inline std::string shown_word(std::string_view word) {
  constexpr std::size_t kShown = 80;
  std::string shown = sanitize_text(word.substr(0, kShown));
  if (word.size() > kShown) shown += "...";
  return shown;
}

}  // namespace devicelogin::cli
