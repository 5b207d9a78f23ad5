// darasa validate on what is not a template or a cohort (issue 13): the
// daemon's config (checked as serve reads it), a binary file (a short
// message, never its bytes), and a template its provider can never run
// (located at the field, with nothing written to the state).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "support/command.h"

namespace darasa::testing {
namespace {
namespace fs = std::filesystem;

class ValidateKinds : public ::testing::Test {
 protected:
  CommandResult darasa(std::vector<std::string> args) {
    args.insert(args.begin(), darasaBinary());
    return runCommand(args, {{"DARASA_HOME", dir_ / "state"}});
  }
  TempDir dir_;
};

TEST_F(ValidateKinds, DaemonConfigIsValidatedNotApplied) {
  std::string example = std::string(DARASA_SOURCE_DIR) + "/examples/darasa.yaml";
  auto ok = darasa({"validate", example});
  EXPECT_EQ(ok.exitCode, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("1 file valid: 0 template(s), 0 cohort(s), 1 daemon config(s)"), std::string::npos) << ok.out;

  writeFile(dir_ / "bad.yaml", "apiVersion: darasa/v1\nkind: DaemonConfig\ntik: 5s\nlisten: 127.0.0.1:99999\n");
  auto bad = darasa({"validate", dir_ / "bad.yaml"});
  EXPECT_EQ(bad.exitCode, 2);
  EXPECT_NE(bad.out.find("bad.yaml:3:1: error: unknown field \"tik\" (did you mean \"tick\"?)"), std::string::npos)
      << bad.out;
  EXPECT_NE(bad.out.find("bad.yaml:4:9: error: listen \"127.0.0.1:99999\" is not an address"), std::string::npos)
      << bad.out;

  auto apply = darasa({"apply", example});
  EXPECT_EQ(apply.exitCode, 2);
  EXPECT_NE((apply.out + apply.err).find("a DaemonConfig is the daemon's config (darasa serve --config FILE)"),
            std::string::npos)
      << apply.out << apply.err;
}

TEST_F(ValidateKinds, ExampleRostersAndSchedulesAreValidAlone) {
  std::string ex = std::string(DARASA_SOURCE_DIR) + "/examples/";
  auto r = darasa({"validate", ex + "rosters/cyber-2026-01.csv", ex + "schedules/linux-evening.ics"});
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("2 files valid: 0 template(s), 0 cohort(s), 1 roster(s), 1 schedule(s)"), std::string::npos)
      << r.out;
  auto apply = darasa({"apply", ex + "rosters/cyber-2026-01.csv"});
  EXPECT_EQ(apply.exitCode, 2);
  EXPECT_NE((apply.out + apply.err).find("a roster is read by the cohort that names it (spec.roster)"),
            std::string::npos)
      << apply.out << apply.err;
}

TEST_F(ValidateKinds, BinaryFileGetsOneShortLine) {
  std::string elf("\x7f" "ELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0>\0", 20);
  for (int i = 0; i < 20000; ++i) elf += static_cast<char>((i * 131) & 0xff);
  writeFile(dir_ / "darasa-lab", elf);
  auto r = darasa({"validate", dir_ / "darasa-lab"});
  EXPECT_EQ(r.exitCode, 2);
  std::string all = r.out + r.err;
  EXPECT_NE(all.find("error: not a text file: it holds binary data (a NUL byte at byte 8)"), std::string::npos) << all;
  EXPECT_LT(all.size(), 200u) << all;
  EXPECT_TRUE(std::all_of(all.begin(), all.end(), [](char c) { return c == '\n' || static_cast<unsigned char>(c) >= 0x20; }));
}

TEST_F(ValidateKinds, TemplateTheProviderCanNeverRunIsLocatedAtItsFields) {
  writeFile(dir_ / "huge.yaml",
            "apiVersion: darasa/v1\nkind: LabTemplate\nmetadata: {name: huge}\nspec:\n  provider: local\n"
            "  ports: [{name: ssh, port: 2222}]\n  access: {user: trainee}\n"
            "  resources:\n    cpus: 4096\n    memory: 1000Ti\n");
  auto r = darasa({"validate", dir_ / "huge.yaml"});
  EXPECT_EQ(r.exitCode, 2) << r.out << r.err;
  EXPECT_NE(r.out.find("huge.yaml:9:11: error: provider \"local\": resources.cpus"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("huge.yaml:10:13: error: provider \"local\": resources.memory"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir_ / "state")) << "validate wrote the state";

  // Within what this machine has: valid.
  writeFile(dir_ / "small.yaml",
            "apiVersion: darasa/v1\nkind: LabTemplate\nmetadata: {name: small}\nspec:\n  provider: local\n"
            "  ports: [{name: ssh, port: 2222}]\n  access: {user: trainee}\n  resources: {cpus: 0.5, memory: 64Mi}\n");
  auto ok = darasa({"validate", dir_ / "small.yaml"});
  EXPECT_EQ(ok.exitCode, 0) << ok.out << ok.err;
}

}  // namespace
}  // namespace darasa::testing
