#include "commands.hpp"

namespace devicelogin::cli {
void setup_serve(CLI::App& app, int& exit_code) {
  (void)app;
  (void)exit_code;
}
}  // namespace devicelogin::cli
