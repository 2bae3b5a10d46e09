/* Baseline for bench/token_hot_path.sh: the cheapest C process that writes one line, as
   `devicelogin token` does. */
#include <unistd.h>

int main(void) {
  static const char line[] = "x\n";
  return write(STDOUT_FILENO, line, sizeof line - 1) == (ssize_t)(sizeof line - 1) ? 0 : 1;
}
