#pragma once
// A word from the command line, the input or a config file as an error line quotes it: control
// characters removed and cut to `limit` bytes ("..." marks the cut), so that the line stays short
// whatever it holds. Never a secret: only flags, protocol words, hosts and URLs are shown.
#include <string>
#include <string_view>

#include "devicelogin/sanitize.hpp"

namespace devicelogin::cli {

[[nodiscard]] inline std::string shown_word(std::string_view word, std::size_t limit = 80) {
  std::string shown = sanitize_text(word.substr(0, limit));
  if (word.size() > limit) shown += "...";
  return shown;
}

}  // namespace devicelogin::cli
