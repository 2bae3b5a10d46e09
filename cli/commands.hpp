#pragma once
// One setup_X per subcommand (CLI11's subcommands-in-files pattern). Each registers its
// subcommand on `app` and, when it runs, stores the process exit code in `exit_code`.
#include <CLI/CLI.hpp>

namespace devicelogin::cli {

void setup_login(CLI::App& app, int& exit_code);
void setup_status(CLI::App& app, int& exit_code);
void setup_token(CLI::App& app, int& exit_code);
void setup_refresh(CLI::App& app, int& exit_code);
void setup_logout(CLI::App& app, int& exit_code);
void setup_serve(CLI::App& app, int& exit_code);
void setup_demo(CLI::App& app, int& exit_code);

}  // namespace devicelogin::cli
