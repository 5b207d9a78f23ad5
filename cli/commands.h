// Registration of the darasa subcommands on the CLI11 app. Each add*()
// adds its commands; a command's callback stores its exit code in *rc.
#pragma once

namespace CLI {
class App;
}

namespace darasa::cli {
class Context;

void addFileCommands(CLI::App& app, Context& ctx, int* rc);  // validate, render, apply
void addLabCommands(CLI::App& app, Context& ctx, int* rc);   // plan, up, down, status, creds, gc, providers
void addUsageCommands(CLI::App& app, Context& ctx, int* rc);  // usage
void addScheduleCommands(CLI::App& app, Context& ctx, int* rc);  // schedule

void addServeCommands(CLI::App& app, Context& ctx, int* rc);  // serve (the daemon)
void addTokenCommands(CLI::App& app, Context& ctx, int* rc);  // token create|list|revoke
void addPackageCommands(CLI::App& app, Context& ctx, int* rc);  // version, completion (+ hidden __complete, __man)

}  // namespace darasa::cli
