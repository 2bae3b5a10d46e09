// Standard input for the helpers: one bounded reader for the fast path and the full CLI alike.
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "git_protocol.hpp"
#include "helpers.hpp"

namespace devicelogin::cli::helpers {

void read_bounded(int fd, std::size_t limit, bool stop_after_blank_line, WipingString& into) {
  // Reserved once, so that the storage does not move while a password line is in it (the wiping
  // allocator would wipe the old buffer, but one buffer is simpler to reason about).
  into.reserve(std::min<std::size_t>(limit + 1, 64 * 1024 + 1));
  char chunk[4096];
  while (into.size() <= limit &&
         !(stop_after_blank_line && git_attributes_complete(std::string_view(into.data(), into.size())))) {
    const std::size_t room = std::min(sizeof chunk, limit + 1 - into.size());
    const ssize_t n = ::read(fd, chunk, room);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    into.append(chunk, static_cast<std::size_t>(n));
  }
  ::explicit_bzero(chunk, sizeof chunk);
}

std::string_view StdinInput::read(std::size_t limit, bool stop_after_blank_line) {
  if (!consumed_) {
    consumed_ = true;
    read_bounded(STDIN_FILENO, limit, stop_after_blank_line, data_);
  }
  return {data_.data(), data_.size()};
}

}  // namespace devicelogin::cli::helpers
