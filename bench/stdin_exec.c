/* bench/helpers_hot_path.sh: runs PROGRAM with FILE as its standard input (hyperfine 1.15 has no
 * --input), so that every timed command, `token` included, pays the same extra exec.
 *   bench_stdin_exec FILE PROGRAM ARGS... */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 3) {
    fputs("usage: bench_stdin_exec FILE PROGRAM ARGS...\n", stderr);
    return 2;
  }
  int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
  if (fd < 0 || dup2(fd, 0) != 0) {
    perror(argv[1]);
    return 2;
  }
  execv(argv[2], argv + 2);
  perror(argv[2]);
  return 127;
}
