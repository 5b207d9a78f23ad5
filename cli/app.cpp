#include "app.h"

#include <CLI/CLI.hpp>
#include <iostream>

namespace darasa::cli {
int run(int argc, char** argv) {
  CLI::App app{"darasa: lab provisioner for training cohorts", "darasa"};
  app.require_subcommand(1);
  auto* version = app.add_subcommand("version", "print the version");
  version->callback([] { std::cout << "darasa " << DARASA_VERSION << "\n"; });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  return 0;
}
}  // namespace darasa::cli
