// version, completion and the hidden helpers of the packaging:
//   darasa version [-o json]        the build (build_info.h)
//   darasa completion bash|zsh      a completion script (completion.h)
//   darasa __complete cohorts       cohort names, one a line, for the scripts
//   darasa __man DIR                man pages into DIR (manpage.h; the build runs it)
// The generators read the whole command tree, so they run in the callback,
// after every command has been registered.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "build_info.h"
#include "commands.h"
#include "command_doc.h"
#include "completion.h"
#include "context.h"
#include "manpage.h"

namespace darasa::cli {

namespace {

nlohmann::ordered_json versionJson(const BuildInfo& b) {
  nlohmann::ordered_json libs = nlohmann::ordered_json::object();
  for (const auto& [name, version] : b.libraries) libs[name] = version;
  return {{"version", b.version},
          {"commit", b.commit.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(b.commit)},
          {"modified", b.modified},
          {"buildType", b.buildType},
          {"compiler", b.compiler},
          {"libraries", libs}};
}

void printVersion(const std::string& output) {
  const BuildInfo& b = buildInfo();
  if (output == "json") {
    std::cout << versionJson(b).dump(2) << "\n";
    return;
  }
  std::cout << "darasa " << b.version << "\n";
  std::cout << "commit:    " << (b.commit.empty() ? "unknown (not built from a git checkout)" : b.commit)
            << (b.modified ? " (with uncommitted changes)" : "") << "\n";
  std::cout << "build:     " << b.buildType << ", " << b.compiler << "\n";
  std::string libs;
  for (const auto& [name, version] : b.libraries) libs += (libs.empty() ? "" : ", ") + name + " " + version;
  std::cout << "libraries: " << libs << "\n";
}

// Cohort names of the state (or of the server with --server); nothing, and
// exit 0, when there is no state or the server cannot be reached: a
// completion must never print errors into the user's line.
int completeCohorts(Context& ctx) {
  std::vector<std::string> names;
  if (ctx.isRemote()) {
    auto remote = ctx.remote();
    if (!remote) return kExitOk;
    auto list = remote.value()->get("/api/v1/cohorts");
    if (!list) return kExitOk;
    const nlohmann::json& items = list.value().is_object() && list.value().contains("items") ? list.value()["items"]
                                                                                            : list.value();
    if (!items.is_array()) return kExitOk;
    for (const auto& c : items)
      if (c.is_object() && c.contains("name") && c["name"].is_string()) names.push_back(c["name"].get<std::string>());
  } else {
    auto store = ctx.openStore(OpenMode::kMustExist);
    if (!store) return kExitOk;
    auto cohorts = store.value()->listCohorts();
    if (!cohorts) return kExitOk;
    for (const auto& c : cohorts.value()) names.push_back(c.name);
  }
  for (const auto& n : names) std::cout << n << "\n";
  return kExitOk;
}

int writeManPages(const CLI::App& app, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail(invalidError("cannot create " + dir + ": " + ec.message()));
  for (const auto& page : manPages(describeCommands(app), buildInfo().version)) {
    std::string path = dir + "/" + page.fileName;
    std::ofstream f(path, std::ios::trunc);
    f << page.text;
    if (!f.flush()) return fail(internalError("cannot write " + path));
  }
  return kExitOk;
}

}  // namespace

void addPackageCommands(CLI::App& app, Context& ctx, int* rc) {
  auto output = std::make_shared<std::string>("text");
  auto* version = app.add_subcommand("version", "Print darasa's version, commit and library versions");
  version->add_option("-o,--output", *output, "text or json")->check(CLI::IsMember({"text", "json"}));
  version->callback([output] { printVersion(*output); });

  auto shell = std::make_shared<std::string>();
  auto* completion = app.add_subcommand("completion", "Print a shell completion script (bash or zsh)");
  completion->add_option("shell", *shell, "bash or zsh")->required()->check(CLI::IsMember({"bash", "zsh"}));
  completion->footer(
      "Installed by the package for bash and zsh. By hand:\n"
      "  bash: source <(darasa completion bash)   (or save it in ~/.local/share/bash-completion/completions/darasa)\n"
      "  zsh:  darasa completion zsh > ~/.zfunc/_darasa   (with fpath=(~/.zfunc $fpath) before compinit)\n"
      "Cohort names are completed from the state, or from the server with --server.");
  completion->callback([&app, shell] {
    CommandDoc root = describeCommands(app);
    std::cout << (*shell == "zsh" ? zshCompletion(root, buildInfo().version) : bashCompletion(root, buildInfo().version));
  });

  auto what = std::make_shared<std::string>();
  auto* complete = app.add_subcommand("__complete", "Words for the completion scripts");
  complete->group("");  // hidden
  complete->add_option("what", *what, "cohorts")->required()->check(CLI::IsMember({"cohorts"}));
  complete->callback([&ctx, what, rc] { *rc = completeCohorts(ctx); });

  auto dir = std::make_shared<std::string>();
  auto* man = app.add_subcommand("__man", "Write the man pages into a directory");
  man->group("");
  man->add_option("dir", *dir, "output directory")->required();
  man->callback([&app, dir, rc] { *rc = writeManPages(app, *dir); });
}

}  // namespace darasa::cli
