// A stand-in that tests/install/planted_libraries_test.sh plants in a directory under the name of
// every library devicelogin needs. The loader must never take it: if it ever does, its
// constructor leaves a marker file in the current directory (which is where it was planted).
#include <fcntl.h>
#include <unistd.h>

namespace {

__attribute__((constructor)) void planted_library_ran() {
  int fd = ::open("PLANTED-LIBRARY-RAN", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return;
  if (::write(fd, "ran\n", 4) < 0) {
    // Nothing to do: the file's existence is the marker.
  }
  ::close(fd);
}

}  // namespace
