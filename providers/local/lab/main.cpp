// Entry point of darasa-lab (see tool.h for the modes).
#include <cstdio>
#include <string>
#include <vector>

#include "tool.h"

int main(int argc, char** argv) {
  using namespace darasa::providers::local::tool;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::fprintf(stderr, "usage: darasa-lab launch|init|exec|check ...\n");
    return 2;
  }
  std::string mode = args.front();
  args.erase(args.begin());
  if (mode == "launch") return launchMain(args);
  if (mode == "init") return initMain(args);
  if (mode == "exec") return execMain(args);
  if (mode == "check") return checkMain(args);
  std::fprintf(stderr, "darasa-lab: unknown mode \"%s\"\n", mode.c_str());
  return 2;
}
