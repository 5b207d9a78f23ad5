// Tests of the libvirt provider object: validation (no daemon needed: it
// must refuse what the host cannot give before anything starts), the host
// helpers, and, on real libvirt (scripts/libvirt-service.sh) with the example
// guest (examples/images/build-vm-guest.sh), the credentials a trainee logs
// in with and the domains darasa never touches.
// The live tests skip without libvirtd unless DARASA_REQUIRE_ENGINE=1 (CI).
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "libvirt/host_tools.h"
#include "libvirt/libvirt_provider.h"

namespace darasa::providers::libvirt {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A URI whose socket does not exist: libvirt fails at once, no daemon is
// started or contacted.
constexpr const char* kNoDaemon = "qemu+unix:///system?socket=/nonexistent/darasa-test/libvirt-sock";

struct TempTree {
  TempTree() {
    char t[] = "/tmp/darasa-libvirt-test-XXXXXX";
    path = ::mkdtemp(t);
    ::chmod(path.c_str(), 0711);
  }
  ~TempTree() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  void write(const std::string& rel, const std::string& content) {
    fs::create_directories((fs::path(path) / rel).parent_path());
    std::ofstream(fs::path(path) / rel, std::ios::binary) << content;
  }
  std::string path;
};

LabSpec okSpec(const std::string& cohort = "c", const std::string& trainee = "t1") {
  LabSpec s;
  s.labId = cohort + "." + trainee;
  s.cohort = cohort;
  s.trainee = trainee;
  s.provider = "libvirt";
  s.image = "busybox-vm";
  s.ports = {{"ssh", 22, "tcp"}, {"web", 8080, "http"}};
  s.readiness.tcpPort = "ssh";
  s.resources.memoryBytes = 96LL << 20;
  s.resources.cpuMillis = 1000;
  s.labels = {{kLabelLab, s.labId}, {kLabelCohort, cohort}, {kLabelTrainee, trainee}, {kLabelGeneration, "1"}};
  return s;
}

class LibvirtValidation : public ::testing::Test {
 protected:
  void SetUp() override {
    images_.write("busybox-vm/vmlinuz", "kernel");
    images_.write("busybox-vm/initrd.img", "initrd");
    LibvirtOptions o;
    o.uri = kNoDaemon;
    o.imageDir = images_.path;
    o.labDir = images_.path + "/labs";
    provider_ = makeLibvirtProvider(o);
  }
  TempTree images_;
  std::unique_ptr<Provider> provider_;
};

TEST_F(LibvirtValidation, AGoodSpecPasses) {
  Status s = provider_->validate(okSpec());
  EXPECT_TRUE(s.isOk()) << s.toString();
}

TEST_F(LibvirtValidation, MoreMemoryOrCpusThanTheHostHasIsRefusedBeforeAnythingStarts) {
  HostCapacity host = localCapacity();
  ASSERT_GT(host.memoryBytes, 0);
  LabSpec s = okSpec();
  s.resources.memoryBytes = host.memoryBytes + (1LL << 30);
  Status v = provider_->validate(s);
  EXPECT_EQ(v.code(), Code::kInvalid) << v.toString();
  EXPECT_NE(v.message().find("resources.memory"), std::string::npos) << v.message();
  EXPECT_NE(v.message().find("more than this host has"), std::string::npos) << v.message();

  s = okSpec();
  s.resources.cpuMillis = static_cast<int64_t>(host.cpus + 1) * 1000;
  v = provider_->validate(s);
  EXPECT_EQ(v.code(), Code::kInvalid) << v.toString();
  EXPECT_NE(v.message().find("resources.cpus"), std::string::npos) << v.message();

  // create checks the same before it touches anything.
  auto made = provider_->create(s, Deadline::after(5s));
  EXPECT_EQ(made.status().code(), Code::kInvalid);
  EXPECT_FALSE(fs::exists(images_.path + "/labs"));
}

TEST_F(LibvirtValidation, WhatAVmLabCannotDoIsNamed) {
  struct Case {
    const char* field;
    std::function<void(LabSpec&)> change;
  };
  std::vector<Case> cases = {
      {"resources.memory", [](LabSpec& s) { s.resources.memoryBytes = 64LL << 20; }},
      {"network", [](LabSpec& s) { s.network = NetworkMode::kCohort; }},
      {"network", [](LabSpec& s) { s.network = NetworkMode::kHost; }},
      {"ports", [](LabSpec& s) { s.network = NetworkMode::kNone; }},
      {"readiness.exec", [](LabSpec& s) { s.readiness.exec = {"true"}; }},
      {"readiness.tcp", [](LabSpec& s) { s.readiness.tcpPort = "nosuch"; }},
      {"options.flavour", [](LabSpec& s) { s.providerOptions["flavour"] = "x"; }},
      {"image", [](LabSpec& s) { s.image = ""; }},
      {"image", [](LabSpec& s) { s.image = "../etc"; }},
      {"labId", [](LabSpec& s) { s.labId = "a/b"; }},
  };
  for (const auto& c : cases) {
    LabSpec s = okSpec();
    c.change(s);
    Status v = provider_->validate(s);
    EXPECT_EQ(v.code(), Code::kInvalid) << c.field << ": " << v.toString();
    EXPECT_NE(v.message().find(c.field), std::string::npos) << v.message();
  }
}

TEST_F(LibvirtValidation, AMissingImageSaysHowToBuildOne) {
  LabSpec s = okSpec();
  s.image = "nosuch-vm";
  Status v = provider_->validate(s);
  EXPECT_EQ(v.code(), Code::kNotFound) << v.toString();
  EXPECT_NE(v.message().find("build-vm-guest.sh"), std::string::npos) << v.message();
}

TEST_F(LibvirtValidation, WithoutTheDaemonCallsSayHowToStartIt) {
  Status u = provider_->usable();
  EXPECT_EQ(u.code(), Code::kUnavailable) << u.toString();
  EXPECT_NE(u.message().find("scripts/libvirt-service.sh"), std::string::npos) << u.message();
  auto seen = provider_->inspect("c.t1", Deadline::after(5s));
  EXPECT_EQ(seen.status().code(), Code::kUnavailable);
  EXPECT_TRUE(seen.status().retryable());
  auto made = provider_->create(okSpec(), Deadline::after(5s));
  EXPECT_EQ(made.status().code(), Code::kUnavailable);
  EXPECT_FALSE(fs::exists(images_.path + "/labs/c.t1")) << "nothing made without the daemon";
  ProviderInfo i = provider_->info();
  EXPECT_EQ(i.name, "libvirt");
  EXPECT_EQ(i.kind, ProviderKind::kVm);
  EXPECT_TRUE(i.capabilities.stopStart);
  EXPECT_FALSE(i.capabilities.exec);
}

TEST(LibvirtImages, KernelDirectoriesAndDiskFilesAreFound) {
  TempTree t;
  t.write("k/vmlinuz", "k");
  t.write("k/initrd.img", "i");
  t.write("k/cmdline", "console=ttyS0 quiet\n");
  t.write("k/ready-marker", "guest: ready\n");
  t.write("disk.qcow2", std::string("QFI\xfb", 4) + std::string(60, '\0'));
  t.write("raw.img", std::string(512, '\0'));
  t.write("half/vmlinuz", "k");

  auto k = resolveImage("k", t.path);
  ASSERT_TRUE(k.isOk()) << k.status().toString();
  EXPECT_EQ(k->kind, VmImage::Kind::kKernel);
  EXPECT_EQ(k->cmdline, "console=ttyS0 quiet");
  EXPECT_EQ(k->readyMarker, "guest: ready");
  EXPECT_EQ(k->baseDisk, "");

  auto d = resolveImage(t.path + "/disk.qcow2", "/elsewhere");
  ASSERT_TRUE(d.isOk());
  EXPECT_EQ(d->kind, VmImage::Kind::kDisk);
  EXPECT_EQ(d->baseFormat, "qcow2");
  EXPECT_EQ(resolveImage("raw.img", t.path)->baseFormat, "raw");

  EXPECT_EQ(resolveImage("half", t.path).status().code(), Code::kNotFound);
  EXPECT_EQ(resolveImage("k/../../etc", t.path).status().code(), Code::kInvalid);
}

TEST(LibvirtTools, RunToolHonoursItsDeadlineAndReportsFailures) {
  auto t0 = std::chrono::steady_clock::now();
  auto slow = runTool({"sleep", "10"}, Deadline::after(300ms));
  EXPECT_EQ(slow.status().code(), Code::kTimeout);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);

  auto ok = runTool({"sh", "-c", "echo out; echo err >&2"}, Deadline::after(10s));
  ASSERT_TRUE(ok.isOk()) << ok.status().toString();
  EXPECT_NE(ok->find("out"), std::string::npos);
  EXPECT_NE(ok->find("err"), std::string::npos);

  auto bad = runTool({"sh", "-c", "echo broken >&2; exit 3"}, Deadline::after(10s));
  EXPECT_EQ(bad.status().code(), Code::kInternal);
  EXPECT_NE(bad.status().message().find("exited with 3"), std::string::npos) << bad.status().message();
  EXPECT_NE(bad.status().message().find("broken"), std::string::npos);

  EXPECT_EQ(runTool({"/nonexistent/tool"}, Deadline::after(5s)).status().code(), Code::kUnavailable);
}

// ---------------------------------------------------------------------------
// On real libvirt.

bool requireEngine() {
  const char* v = std::getenv("DARASA_REQUIRE_ENGINE");
  return v && std::string(v) == "1";
}

std::string imageDir() {
  const char* d = std::getenv("DARASA_VM_IMAGES");
  return d && *d ? d : "/var/lib/darasa/images";
}

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

class LibvirtLive : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!fs::exists("/run/libvirt/libvirt-sock")) why = "libvirtd is not running: start it with scripts/libvirt-service.sh";
    else if (!fs::exists(imageDir() + "/busybox-vm/vmlinuz"))
      why = "the example guest is missing: run examples/images/build-vm-guest.sh";
    if (!why.empty()) {
      if (requireEngine()) FAIL() << why;
      GTEST_SKIP() << why;
    }
    auto p = makeLibvirtProviderFromConfig(ProviderConfig{
        "libvirt", tree_.path + "/state", {{"imageDir", imageDir()}, {"labDir", tree_.path + "/labs"}, {"stopTimeout", "20"}}});
    ASSERT_TRUE(p.isOk()) << p.status().toString();
    provider_ = std::move(p).value();
    Status u = provider_->usable();
    ASSERT_TRUE(u.isOk()) << u.toString();
    cohort_ = "lvt" + std::to_string(::getpid());
  }
  void TearDown() override {
    if (!provider_) return;
    auto labs = provider_->list(LabelSelector::cohort(cohort_), Deadline::after(30s));
    if (!labs) return;
    for (const auto& l : *labs) EXPECT_TRUE(provider_->destroy(l.labId, Deadline::after(60s)).isOk());
  }
  Status waitReady(const LabSpec& s, std::chrono::seconds limit = 120s) {
    auto until = std::chrono::steady_clock::now() + limit;
    Status last = timeoutError("not probed");
    while (std::chrono::steady_clock::now() < until) {
      last = provider_->probe(s, Deadline::after(10s));
      if (last.isOk() || !last.retryable()) return last;
      std::this_thread::sleep_for(200ms);
    }
    return last;
  }
  TempTree tree_;
  std::string cohort_;
  std::unique_ptr<Provider> provider_;
};

TEST_F(LibvirtLive, TheTraineeLogsInWithTheInjectedKeyAndTheDiskSurvivesAStop) {
  std::string key = tree_.path + "/id";
  ASSERT_EQ(std::system(("ssh-keygen -q -t ed25519 -N '' -C t -f " + key).c_str()), 0);
  std::ifstream pub(key + ".pub");
  std::string line;
  std::getline(pub, line);

  LabSpec s = okSpec(cohort_, "alice");
  s.access.user = "alice";
  s.access.password = false;
  s.credentials.user = "alice";
  s.credentials.authorizedKey = line;
  auto made = provider_->create(s, Deadline::after(60s));
  ASSERT_TRUE(made.isOk()) << made.status().toString();
  std::string dir = tree_.path + "/labs/" + s.labId;
  EXPECT_TRUE(fs::exists(dir + "/disk.qcow2"));
  EXPECT_TRUE(fs::exists(dir + "/seed.iso"));
  EXPECT_EQ(fs::status(dir + "/seed.iso").permissions() & fs::perms::others_read, fs::perms::none)
      << "the seed holds credentials";
  Status ready = waitReady(s);
  ASSERT_TRUE(ready.isOk()) << ready.toString();

  auto ssh = [&](int port, const std::string& cmd) {
    return run("ssh -i " + key + " -p " + std::to_string(port) +
               " -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "
               "-o ConnectTimeout=20 alice@127.0.0.1 '" + cmd + "' 2>&1");
  };
  auto portOf = [&]() {
    auto seen = provider_->inspect(s.labId, Deadline::after(10s));
    EXPECT_TRUE(seen.isOk()) << seen.status().toString();
    for (const auto& e : seen ? seen->endpoints : std::vector<Endpoint>{})
      if (e.name == "ssh") return e.port;
    return 0;
  };
  int port = portOf();
  ASSERT_GT(port, 0);
  EXPECT_EQ(ssh(port, "id -un; echo kept > ~/note"), "alice\n");

  ASSERT_TRUE(provider_->stop(s.labId, Deadline::after(60s)).isOk());
  EXPECT_EQ(provider_->inspect(s.labId, Deadline::after(10s))->state, ObservedState::kStopped);
  ASSERT_TRUE(provider_->start(s.labId, Deadline::after(60s)).isOk());
  ready = waitReady(s);
  ASSERT_TRUE(ready.isOk()) << ready.toString();
  port = portOf();
  EXPECT_EQ(ssh(port, "cat ~/note"), "kept\n") << "the lab's disk is kept across stop/start";

  ASSERT_TRUE(provider_->destroy(s.labId, Deadline::after(60s)).isOk());
  EXPECT_FALSE(fs::exists(dir)) << "destroy leaves no overlay, seed or console log";
  EXPECT_EQ(provider_->inspect(s.labId, Deadline::after(10s)).status().code(), Code::kNotFound);
}

TEST_F(LibvirtLive, DomainsDarasaDidNotMakeAreNeverListedOrTouched) {
  // A domain with a lab's name but without darasa's metadata.
  std::string labId = cohort_ + ".foreign";
  std::string xml = tree_.path + "/foreign.xml";
  std::ofstream(xml) << "<domain type='qemu'><name>darasa-" << labId
                     << "</name><memory unit='MiB'>64</memory><os><type arch='x86_64' machine='pc'>hvm</type></os>"
                        "</domain>";
  ASSERT_EQ(std::system(("virsh -q -c qemu:///system define " + xml + " >/dev/null").c_str()), 0);
  struct Undefine {
    std::string name;
    ~Undefine() { (void)std::system(("virsh -q -c qemu:///system undefine " + name + " >/dev/null 2>&1").c_str()); }
  } cleanup{"darasa-" + labId};

  auto all = provider_->list(LabelSelector::all(), Deadline::after(30s));
  ASSERT_TRUE(all.isOk()) << all.status().toString();
  for (const auto& l : *all) EXPECT_NE(l.labId, labId);
  EXPECT_EQ(provider_->inspect(labId, Deadline::after(10s)).status().code(), Code::kNotFound);
  LabSpec s = okSpec(cohort_, "foreign");
  EXPECT_EQ(provider_->create(s, Deadline::after(30s)).status().code(), Code::kConflict);
  EXPECT_EQ(provider_->destroy(labId, Deadline::after(30s)).code(), Code::kConflict);
  EXPECT_NE(run("virsh -q -c qemu:///system domstate darasa-" + labId + " 2>&1").find("shut off"), std::string::npos)
      << "the foreign domain is still there";
}

}  // namespace
}  // namespace darasa::providers::libvirt
