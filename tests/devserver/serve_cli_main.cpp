// A minimal host for cli/serve.cpp: `devserver_serve_cli serve [flags]`, exit code as the CLI's.
#include <CLI/CLI.hpp>

#include "commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"devserver serve test host"};
  app.require_subcommand(1);
  int exit_code = 0;
  devicelogin::cli::setup_serve(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  return exit_code;
}
