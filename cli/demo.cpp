#include "commands.hpp"

namespace devicelogin::cli {
void setup_demo(CLI::App& app, int& exit_code) {
  (void)app;
  (void)exit_code;
}
}  // namespace devicelogin::cli
