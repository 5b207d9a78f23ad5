// Unit tests of the docker provider's pure parts: names, option parsing,
// subnets, the tar writer (checked with GNU tar), stream demultiplexing,
// error and state mapping. No engine needed.
#include "docker/docker_support.h"
#include "docker/engine_api.h"
#include "docker/tar_writer.h"

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace darasa::providers::docker {
namespace {

namespace fs = std::filesystem;

TEST(DockerNames, KeepSafeIdsAndHashUnsafeOnes) {
  EXPECT_EQ(containerName("ksg-cyber-2026-01.t001"), "darasa-ksg-cyber-2026-01.t001");
  EXPECT_EQ(cohortNetworkName("ksg-cyber"), "darasa-cohort-ksg-cyber");
  std::string a = containerName("cohort/alice smith");
  std::string b = containerName("cohort-alice-smith");
  EXPECT_EQ(a.rfind("darasa-cohort-alice-smith-", 0), 0u) << a;
  EXPECT_NE(a, b);  // the hash keeps them apart
  EXPECT_EQ(a.size(), std::string("darasa-cohort-alice-smith-").size() + 8);
  EXPECT_LE(containerName(std::string(300, 'x')).size(), 7u + 100 + 9);
  EXPECT_EQ(hostName("KSG.Trainee_01"), "ksg-trainee-01");
  EXPECT_LE(hostName(std::string(100, 'a')).size(), 63u);
}

TEST(DockerUlimits, ParsesSoftAndHard) {
  auto u = parseUlimits("nofile=1024:2048, nproc=512");
  ASSERT_TRUE(u.isOk()) << u.status().toString();
  ASSERT_EQ(u->size(), 2u);
  EXPECT_EQ((*u)[0].name, "nofile");
  EXPECT_EQ((*u)[0].soft, 1024);
  EXPECT_EQ((*u)[0].hard, 2048);
  EXPECT_EQ((*u)[1].name, "nproc");
  EXPECT_EQ((*u)[1].soft, 512);
  EXPECT_EQ((*u)[1].hard, 512);
  EXPECT_EQ(parseUlimits("nofile").status().code(), Code::kInvalid);
  EXPECT_EQ(parseUlimits("nofile=2048:1024").status().code(), Code::kInvalid);
  EXPECT_EQ(parseUlimits("nofile=x").status().code(), Code::kInvalid);
  EXPECT_EQ(parseUlimits("NOFILE=1").status().code(), Code::kInvalid);
}

TEST(DockerSubnets, PicksTheFirstFreeSlash24AfterThePoolsFirst) {
  auto pool = parseCidr("10.89.0.0/16");
  ASSERT_TRUE(pool);
  EXPECT_EQ(pool->toString(), "10.89.0.0/16");
  auto first = pickSubnet(*pool, {});
  ASSERT_TRUE(first);
  EXPECT_EQ(first->toString(), "10.89.1.0/24");
  std::vector<Cidr> used = {*parseCidr("10.88.0.0/16"), *parseCidr("10.89.1.0/24"), *parseCidr("10.89.2.128/25")};
  auto next = pickSubnet(*pool, used);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->toString(), "10.89.3.0/24");
  auto skipping = pickSubnet(*pool, used, {*next});
  EXPECT_EQ(skipping->toString(), "10.89.4.0/24");
  // A pool the host already covers entirely has nothing to give.
  EXPECT_FALSE(pickSubnet(*pool, {*parseCidr("10.0.0.0/8")}));
  EXPECT_FALSE(parseCidr("10.89.0.0"));
  EXPECT_FALSE(parseCidr("300.1.1.1/8"));
  EXPECT_EQ(parseCidr("10.89.7.9/24")->toString(), "10.89.7.0/24");
}

TEST(DockerStream, DemultiplexesFramesInOrder) {
  auto frame = [](char stream, const std::string& payload) {
    std::string f(8, '\0');
    f[0] = stream;
    uint32_t n = static_cast<uint32_t>(payload.size());
    f[4] = static_cast<char>(n >> 24);
    f[5] = static_cast<char>(n >> 16);
    f[6] = static_cast<char>(n >> 8);
    f[7] = static_cast<char>(n);
    return f + payload;
  };
  std::string raw = frame(1, "out1\n") + frame(2, "err\n") + frame(1, std::string(300, 'x'));
  EXPECT_EQ(demuxStream(raw), "out1\nerr\n" + std::string(300, 'x'));
  // A TTY stream has no frames: returned as is.
  EXPECT_EQ(demuxStream("plain text"), "plain text");
  // Cut short by truncation: keeps what arrived.
  EXPECT_EQ(demuxStream(frame(1, "abcdef").substr(0, 11)), "abc");
  EXPECT_EQ(demuxStream(""), "");
}

TEST(DockerErrors, MapsEngineAnswersToCodes) {
  auto e = engineError(404, R"({"message":"No such image: x:1"})", "create container darasa-a");
  EXPECT_EQ(e.code(), Code::kNotFound);
  EXPECT_EQ(e.message(), "create container darasa-a: No such image: x:1 (HTTP 404)");
  EXPECT_EQ(engineError(400, "{}", "x").code(), Code::kInvalid);
  EXPECT_EQ(engineError(403, "", "x").code(), Code::kDenied);
  EXPECT_EQ(engineError(409, R"({"message":"Conflict. The container name is already in use"})", "x").code(),
            Code::kConflict);
  auto busy = engineError(500, R"({"cause":"x","message":"database is locked","response":500})", "start lab a");
  EXPECT_EQ(busy.code(), Code::kUnavailable);
  EXPECT_TRUE(busy.retryable());
  EXPECT_EQ(busy.message(), "start lab a: database is locked (HTTP 500)");
  EXPECT_EQ(engineError(503, "engine is shutting down\n", "x").message(), "x: engine is shutting down (HTTP 503)");
  // Podman's 500s that are really something else.
  EXPECT_EQ(engineError(500, R"({"message":"the container name \"darasa-a\" is already in use by 95e"})", "x").code(),
            Code::kConflict);
  EXPECT_EQ(engineError(500, R"({"message":"no such image: localhost/x:1: image not known"})", "x").code(),
            Code::kNotFound);
  auto cmd = engineError(
      500, R"({"message":"runc create failed: exec: \"/nope\": OCI runtime attempted to invoke a command that was not found"})",
      "start lab a");
  EXPECT_EQ(cmd.code(), Code::kInvalid);
  EXPECT_FALSE(cmd.retryable());
  auto rlimit = engineError(
      500, R"({"message":"error setting rlimits for ready process: error setting rlimit type 6: operation not permitted"})",
      "start lab a");
  EXPECT_EQ(rlimit.code(), Code::kInvalid);
  EXPECT_NE(rlimit.message().find("nofile and nproc"), std::string::npos);
}

TEST(DockerStates, MapContainerStates) {
  EXPECT_EQ(mapContainerState("running", 0), ObservedState::kRunning);
  EXPECT_EQ(mapContainerState("created", 0), ObservedState::kStopped);
  EXPECT_EQ(mapContainerState("exited", 0), ObservedState::kStopped);
  EXPECT_EQ(mapContainerState("exited", 1), ObservedState::kFailed);
  EXPECT_EQ(mapContainerState("exited", 3), ObservedState::kFailed);
  EXPECT_EQ(mapContainerState("stopped", 3), ObservedState::kFailed);
  EXPECT_EQ(mapContainerState("exited", 143), ObservedState::kStopped);  // SIGTERM from a stop
  EXPECT_EQ(mapContainerState("exited", 137), ObservedState::kStopped);  // SIGKILL after the stop timeout
  EXPECT_EQ(mapContainerState("exited", 137, true), ObservedState::kFailed);  // the OOM killer
  EXPECT_EQ(mapContainerState("paused", 0), ObservedState::kStopped);
  EXPECT_EQ(mapContainerState("restarting", 0), ObservedState::kCreating);
  EXPECT_EQ(mapContainerState("dead", 0), ObservedState::kFailed);
  EXPECT_EQ(mapContainerState("removing", 0), ObservedState::kUnknown);
}

TEST(DockerProcNet, FindsListeningPorts) {
  std::string tcp =
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
      "   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n"
      "   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 2 1\n";
  EXPECT_TRUE(procNetTcpListens(tcp, 22));
  EXPECT_FALSE(procNetTcpListens(tcp, 8080));  // established, not listening
  EXPECT_FALSE(procNetTcpListens(tcp, 80));
  std::string tcp6 =
      "  sl  local_address                         remote_address                        st\n"
      "   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A\n";
  EXPECT_TRUE(procNetTcpListens(tcp6, 8080));
}

TEST(DockerPortsLabel, RoundTrips) {
  std::vector<PortSpec> ports = {{"ssh", 22, "tcp"}, {"web", 8080, "http"}};
  std::string label = encodePorts(ports);
  EXPECT_EQ(label, "ssh:22:tcp,web:8080:http");
  EXPECT_EQ(decodePorts(label), ports);
  EXPECT_TRUE(decodePorts("").empty());
  EXPECT_EQ(decodePorts("junk,web:80:http").size(), 1u);
}

TEST(DockerTime, ParsesRfc3339AndBase64) {
  EXPECT_EQ(parseRfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parseRfc3339("2026-11-27T19:33:52.284434798Z"), 1795808032);
  EXPECT_EQ(parseRfc3339("2026-11-27T22:33:52+03:00"), 1795808032);
  EXPECT_FALSE(parseRfc3339("2026-11-27 19:33:52"));
  EXPECT_FALSE(parseRfc3339("yesterday"));
  EXPECT_EQ(decodeBase64("eyJtdGltZSI6IjEifQ=="), std::string("{\"mtime\":\"1\"}"));
  EXPECT_EQ(decodeBase64("YWJj"), std::string("abc"));
  EXPECT_FALSE(decodeBase64("a*b"));
}

TEST(DockerApiVersion, Compares) {
  EXPECT_EQ(compareApiVersions("1.41", "1.41"), 0);
  EXPECT_EQ(compareApiVersions("1.9", "1.41"), -1);
  EXPECT_EQ(compareApiVersions("1.43", "1.41"), 1);
  EXPECT_EQ(compareApiVersions("2.0", "1.41"), 1);
  EXPECT_FALSE(compareApiVersions("x", "1.41"));
}

// ----- tar ------------------------------------------------------------------

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/darasa-tar-test-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(DockerTar, GnuTarExtractsWhatWeWrite) {
  TarWriter tar;
  ASSERT_TRUE(tar.addDirectory("etc/darasa", 0755).isOk());
  ASSERT_TRUE(tar.addFile("etc/darasa/user", "trainee\n", 0644).isOk());
  std::string big(1500, 'k');  // spans blocks, not a multiple of 512
  ASSERT_TRUE(tar.addFile("home/trainee/.ssh/authorized_keys", big, 0600, 1000, 1000).isOk());
  std::string deep = std::string(60, 'd') + "/" + std::string(60, 'e') + "/file";  // > 100: prefix field
  ASSERT_TRUE(tar.addFile(deep, "deep", 0640).isOk());
  std::string archive = tar.finish();
  EXPECT_EQ(archive.size() % 512, 0u);

  TempDir dir;
  fs::create_directories(dir.path / "out");
  {
    std::ofstream(dir.path / "a.tar", std::ios::binary) << archive;
  }
  std::string cmd = "tar --numeric-owner -xpf '" + (dir.path / "a.tar").string() + "' -C '" +
                    (dir.path / "out").string() + "' 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  EXPECT_EQ(readFile(dir.path / "out/etc/darasa/user"), "trainee\n");
  EXPECT_EQ(readFile(dir.path / "out/home/trainee/.ssh/authorized_keys"), big);
  EXPECT_EQ(readFile(dir.path / "out" / deep), "deep");
  struct stat st{};
  ASSERT_EQ(::stat((dir.path / "out/home/trainee/.ssh/authorized_keys").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  if (::geteuid() == 0) {  // only root may give files away
    EXPECT_EQ(st.st_uid, 1000u);
    EXPECT_EQ(st.st_gid, 1000u);
  }
  ASSERT_EQ(::stat((dir.path / "out/etc/darasa").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
}

TEST(DockerTar, RefusesWhatUstarCannotHold) {
  TarWriter tar;
  EXPECT_EQ(tar.addFile("/etc/passwd", "x", 0644).code(), Code::kInvalid);
  EXPECT_EQ(tar.addFile(std::string(120, 'a'), "x", 0644).code(), Code::kInvalid);  // no '/' to split at
  EXPECT_EQ(tar.addFile("dir/", "x", 0644).code(), Code::kInvalid);
}

}  // namespace
}  // namespace darasa::providers::docker
