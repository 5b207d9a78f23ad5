#include "app.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <spdlog/spdlog.h>

#include "commands.h"
#include "context.h"

namespace darasa::cli {

int run(int argc, char** argv) {
  CLI::App app{
      "darasa provisions one lab per trainee for a training cohort, from declarative files.\n"
      "Typical use: darasa apply cohort.yaml; darasa up COHORT; darasa creds COHORT; darasa down COHORT",
      "darasa"};
  app.require_subcommand(1);
  app.fallthrough();  // global options may follow the subcommand
  Globals globals;
  if (const char* home = std::getenv("DARASA_HOME")) globals.stateDir = home;
  if (const char* server = std::getenv("DARASA_SERVER")) globals.server = server;
  if (const char* token = std::getenv("DARASA_TOKEN")) globals.token = token;
  if (const char* ca = std::getenv("DARASA_CA_CERT")) globals.serverCa = ca;
  app.add_option("--state", globals.stateDir,
                 "state directory (default $DARASA_HOME, else $XDG_DATA_HOME/darasa, else ~/.local/share/darasa), "
                 "or a PostgreSQL URL (postgresql://user@host/db) whose local files stay in the default directory");
  app.add_option("--templates", globals.templateDirs, "directory to look up templates in (repeatable)");
  app.add_option("--server", globals.server,
                 "talk to a darasa daemon at this URL instead of the local state (default $DARASA_SERVER; "
                 "the token comes from $DARASA_TOKEN, a private CA from $DARASA_CA_CERT)");
  app.add_flag("-v,--verbose", globals.verbose, "more detail: every step, debug logs");
  app.add_flag("-q,--quiet", globals.quiet, "no progress output and hints");
  app.footer("Exit status: 0 success, 1 failure while working, 2 invalid input or usage.\n"
             "Run `darasa COMMAND --help` for a command's options.");

  // Commands read the globals through the context only once parsing is done.
  Context ctx(Globals{});
  Context* ctxp = &ctx;
  int rc = kExitOk;
  app.parse_complete_callback([&] {
    *ctxp = Context(globals);
    spdlog::set_level(globals.verbose ? spdlog::level::debug : spdlog::level::warn);
  });

  addPackageCommands(app, ctx, &rc);  // version, completion (cmd_version.cpp)
  addFileCommands(app, ctx, &rc);
  addLabCommands(app, ctx, &rc);
  addServeCommands(app, ctx, &rc);
  addTokenCommands(app, ctx, &rc);
  addUsageCommands(app, ctx, &rc);
  addScheduleCommands(app, ctx, &rc);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitInvalid;
  } catch (const std::exception& e) {
    std::cerr << "darasa: internal error: " << e.what() << "\n";
    return kExitFailure;
  }
  return rc;
}

}  // namespace darasa::cli
