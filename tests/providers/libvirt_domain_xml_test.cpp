// Unit tests of the libvirt provider's pure parts: the domain XML it defines,
// the darasa metadata it reads back after a crash, the forwarded ports it
// reads from QEMU's monitor, the NoCloud seed, and its options.
#include <gtest/gtest.h>

#include "libvirt/domain_xml.h"
#include "libvirt/host_tools.h"
#include "libvirt/libvirt_provider.h"
#include "libvirt/seed.h"

namespace darasa::providers::libvirt {
namespace {

DomainPlan kernelPlan() {
  DomainPlan p;
  p.name = "darasa-c1.t01";
  p.domainType = "qemu";
  p.memoryKiB = 128 * 1024;
  p.vcpus = 2;
  p.image.kind = VmImage::Kind::kKernel;
  p.image.kernel = "/img/busybox-vm/vmlinuz";
  p.image.initrd = "/img/busybox-vm/initrd.img";
  p.image.cmdline = "console=ttyS0 quiet";
  p.overlay = "/labs/c1.t01/disk.qcow2";
  p.seed = "/labs/c1.t01/seed.iso";
  p.console = "/labs/c1.t01/console.log";
  p.metadata.labels = {{kLabelLab, "c1.t01"}, {kLabelCohort, "c1"}, {kLabelTrainee, "t01"},
                       {kLabelGeneration, "3"}, {kLabelState, "abc123"}, {"course", "a<b & \"c\""}};
  p.metadata.ports = {{"ssh", 22, "tcp"}, {"web", 8080, "http"}};
  p.metadata.filesDir = "/labs/c1.t01";
  p.metadata.readyMarker = "darasa-guest: ready";
  p.metadata.network = "isolated";
  return p;
}

TEST(LibvirtDomainXml, KernelBootDomainHasTheLabsSizeFilesAndForwardedPorts) {
  std::string x = domainXml(kernelPlan());
  EXPECT_NE(x.find("<domain type='qemu'"), std::string::npos) << x;
  EXPECT_NE(x.find("<name>darasa-c1.t01</name>"), std::string::npos);
  EXPECT_NE(x.find("<memory unit='KiB'>131072</memory>"), std::string::npos);
  EXPECT_NE(x.find("<vcpu placement='static'>2</vcpu>"), std::string::npos);
  EXPECT_NE(x.find("<kernel>/img/busybox-vm/vmlinuz</kernel>"), std::string::npos);
  EXPECT_NE(x.find("<initrd>/img/busybox-vm/initrd.img</initrd>"), std::string::npos);
  EXPECT_NE(x.find("<cmdline>console=ttyS0 quiet</cmdline>"), std::string::npos);
  EXPECT_NE(x.find("<source file='/labs/c1.t01/disk.qcow2'/>"), std::string::npos);
  EXPECT_NE(x.find("<source file='/labs/c1.t01/seed.iso'/>"), std::string::npos);
  EXPECT_NE(x.find("<readonly/>"), std::string::npos) << "the seed is read-only";
  EXPECT_NE(x.find("path='/labs/c1.t01/console.log' append='off'"), std::string::npos);
  EXPECT_NE(x.find("restrict=on,hostfwd=tcp:127.0.0.1:0-:22,hostfwd=tcp:127.0.0.1:0-:8080"), std::string::npos);
  // What ENGINES.md says fails here: graphics type none, memtune hard limits.
  EXPECT_EQ(x.find("<graphics"), std::string::npos);
  EXPECT_EQ(x.find("hard_limit"), std::string::npos);
  EXPECT_EQ(x.find("<cputune>"), std::string::npos) << "whole CPUs need no quota";
  EXPECT_EQ(x.find("host-passthrough"), std::string::npos) << "TCG keeps the default CPU model";
  // Label values are escaped, never raw.
  EXPECT_NE(x.find("a&lt;b &amp; &quot;c&quot;"), std::string::npos);
  EXPECT_EQ(x.find("a<b"), std::string::npos);
}

TEST(LibvirtDomainXml, DiskBootKvmAndFractionalCpus) {
  DomainPlan p = kernelPlan();
  p.domainType = "kvm";
  p.image.kind = VmImage::Kind::kDisk;
  p.image.baseDisk = "/img/debian.qcow2";
  auto [vcpus, quota] = vcpusFor(1500);
  p.vcpus = vcpus;
  p.cpuQuotaUs = quota;
  std::string x = domainXml(p);
  EXPECT_NE(x.find("<domain type='kvm'"), std::string::npos);
  EXPECT_NE(x.find("<cpu mode='host-passthrough'"), std::string::npos);
  EXPECT_NE(x.find("<boot dev='hd'/>"), std::string::npos);
  EXPECT_EQ(x.find("<kernel>"), std::string::npos);
  EXPECT_NE(x.find("<vcpu placement='static'>2</vcpu>"), std::string::npos);
  EXPECT_NE(x.find("<quota>75000</quota>"), std::string::npos) << x;
}

TEST(LibvirtDomainXml, NetworkNoneHasNoNetworkDevice) {
  DomainPlan p = kernelPlan();
  p.network = false;
  p.metadata.ports.clear();
  std::string x = domainXml(p);
  EXPECT_EQ(x.find("-netdev"), std::string::npos);
  EXPECT_EQ(x.find("virtio-net"), std::string::npos);
}

TEST(LibvirtDomainXml, VcpusRoundUpAndSpreadTheQuota) {
  EXPECT_EQ(vcpusFor(0), std::make_pair(1, int64_t{0}));
  EXPECT_EQ(vcpusFor(1000), std::make_pair(1, int64_t{0}));
  EXPECT_EQ(vcpusFor(2000), std::make_pair(2, int64_t{0}));
  EXPECT_EQ(vcpusFor(500), std::make_pair(1, int64_t{50000}));
  EXPECT_EQ(vcpusFor(2500), std::make_pair(3, int64_t{83333}));
}

TEST(LibvirtMetadata, RoundTripsThroughTheDomainXml) {
  DomainPlan p = kernelPlan();
  std::string x = domainXml(p);
  size_t b = x.find("<darasa:lab");
  size_t e = x.find("</darasa:lab>");
  ASSERT_NE(b, std::string::npos);
  auto m = parseMetadata(x.substr(b, e + 13 - b));
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->labels, p.metadata.labels);
  EXPECT_EQ(m->ports, p.metadata.ports);
  EXPECT_EQ(m->filesDir, "/labs/c1.t01");
  EXPECT_EQ(m->readyMarker, "darasa-guest: ready");
  EXPECT_EQ(m->network, "isolated");
}

TEST(LibvirtMetadata, ReadsTheElementAsLibvirtGivesItBack) {
  // virDomainGetMetadata returns the element without prefix or namespace
  // declaration (libvirt 9.0), with double quotes.
  std::string back = R"(<lab>
  <label key="darasa.lab">c.t1</label>
  <label key="darasa.state">s1</label>
  <label key="empty"/>
  <port name="ssh" port="22" protocol="tcp"/>
  <files dir="/x/c.t1"/>
</lab>)";
  auto m = parseMetadata(back);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->labels.at(kLabelLab), "c.t1");
  EXPECT_EQ(m->labels.at(kLabelState), "s1");
  EXPECT_EQ(m->labels.at("empty"), "");
  ASSERT_EQ(m->ports.size(), 1u);
  EXPECT_EQ(m->ports[0].port, 22);
  EXPECT_EQ(m->filesDir, "/x/c.t1");
}

TEST(LibvirtMetadata, ForeignOrUnlabelledElementsAreNotLabs) {
  EXPECT_FALSE(parseMetadata("<lab xmlns='https://example.org/other'><label key='darasa.lab'>x</label></lab>"));
  EXPECT_FALSE(parseMetadata("<lab xmlns='https://darasa.dev/xmlns/libvirt-lab/1'><label key='darasa.cohort'>x</label></lab>"));
  EXPECT_FALSE(parseMetadata(""));
  EXPECT_FALSE(parseMetadata("<lab xmlns='https://darasa.dev/xmlns/libvirt-lab/1'><label key='darasa.lab'>"));
  EXPECT_FALSE(parseMetadata("not xml at all <<<"));
}

TEST(LibvirtXml, EscapeAndUnescapeAreInverse) {
  std::string s = "a<b>&'\"c ü";
  EXPECT_EQ(xmlUnescape(xmlEscape(s)), s);
  EXPECT_EQ(xmlUnescape("&#65;&#x42;&#252;&bogus;"), "AB\xc3\xbc&bogus;");
}

TEST(LibvirtUsernet, ReadsHostForwardsFromTheMonitor) {
  std::string hmp =
      "Hub -1 (darasa0):\r\n"
      "  Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ\r\n"
      "  TCP[HOST_FORWARD]  13       127.0.0.1 46793       10.0.2.15    22     0     0\r\n"
      "  TCP[HOST_FORWARD]  12       127.0.0.1 37743       10.0.2.15  8080     0     0\r\n"
      "  TCP[ESTABLISHED]   25       127.0.0.1 46793       10.0.2.15    22     0     0\r\n";
  auto f = parseUsernetForwards(hmp);
  EXPECT_EQ(f, (std::map<int, int>{{22, 46793}, {8080, 37743}}));
  auto eps = endpointsFor({{"ssh", 22, "tcp"}, {"web", 8080, "http"}, {"db", 5432, "tcp"}}, f);
  ASSERT_EQ(eps.size(), 2u) << "a port not forwarded (yet) has no endpoint";
  EXPECT_EQ(eps[0], (Endpoint{"ssh", "tcp", "127.0.0.1", 46793}));
  EXPECT_EQ(eps[1], (Endpoint{"web", "http", "127.0.0.1", 37743}));
  EXPECT_TRUE(parseUsernetForwards("garbage\n").empty());
}

TEST(LibvirtNames, LabIdsBecomeSafeDomainAndFileNames) {
  EXPECT_EQ(domainNameFor("c1.t01"), "darasa-c1.t01");
  EXPECT_TRUE(validLabId("ksg-cyber-2026-01.t_01"));
  EXPECT_FALSE(validLabId(""));
  EXPECT_FALSE(validLabId("../etc"));
  EXPECT_FALSE(validLabId("a/b"));
  EXPECT_FALSE(validLabId(".hidden"));
  EXPECT_FALSE(validLabId("a b"));
  EXPECT_FALSE(validLabId(std::string(201, 'a')));
}

LabSpec seedSpec() {
  LabSpec s;
  s.labId = "Cohort_1.T01";
  s.access.user = "trainee";
  s.credentials.user = "alice";
  s.credentials.passwordHash = "$6$salt$abcdefABCDEF./0123";
  s.credentials.authorizedKey = "ssh-ed25519 AAAAC3Nza darasa:Cohort_1.T01";
  return s;
}

TEST(LibvirtSeed, CarriesCredentialsForCloudInitAndForTheMinimalGuest) {
  auto files = seedFiles(seedSpec());
  ASSERT_TRUE(files.isOk()) << files.status().toString();
  EXPECT_EQ(files->at("darasa/user"), "alice\n");
  EXPECT_EQ(files->at("darasa/password.hash"), "$6$salt$abcdefABCDEF./0123\n");
  EXPECT_EQ(files->at("darasa/authorized_keys"), "ssh-ed25519 AAAAC3Nza darasa:Cohort_1.T01\n");
  EXPECT_EQ(files->at("meta-data"), "instance-id: \"darasa-Cohort_1.T01\"\nlocal-hostname: cohort-1-t01\n");
  const std::string& ud = files->at("user-data");
  EXPECT_EQ(ud.rfind("#cloud-config\n", 0), 0u);
  EXPECT_NE(ud.find("  - name: alice\n"), std::string::npos) << ud;
  EXPECT_NE(ud.find("passwd: \"$6$salt$abcdefABCDEF./0123\""), std::string::npos) << ud;
  EXPECT_NE(ud.find("lock_passwd: false"), std::string::npos);
  EXPECT_NE(ud.find("- \"ssh-ed25519 AAAAC3Nza darasa:Cohort_1.T01\""), std::string::npos) << ud;
  EXPECT_NE(ud.find("ssh_pwauth: true"), std::string::npos);
}

TEST(LibvirtSeed, LeavesOutWhatTheTemplateDoesNotHandOut) {
  LabSpec s = seedSpec();
  s.access.password = false;
  auto files = seedFiles(s);
  ASSERT_TRUE(files.isOk());
  EXPECT_EQ(files->count("darasa/password.hash"), 0u);
  EXPECT_EQ(files->at("user-data").find(" passwd:"), std::string::npos);
  EXPECT_NE(files->at("user-data").find("lock_passwd: true"), std::string::npos);
  EXPECT_NE(files->at("user-data").find("ssh_pwauth: false"), std::string::npos);
  s.access.sshKey = false;
  files = seedFiles(s);
  ASSERT_TRUE(files.isOk());
  EXPECT_EQ(files->count("darasa/authorized_keys"), 0u);
  EXPECT_EQ(files->at("user-data").find("ssh_authorized_keys"), std::string::npos);
}

TEST(LibvirtSeed, RefusesTextThatCouldChangeTheGuestsFiles) {
  LabSpec s = seedSpec();
  s.credentials.user = "root:x:0:0";
  EXPECT_EQ(seedFiles(s).status().code(), Code::kInvalid);
  s = seedSpec();
  s.credentials.passwordHash = "$6$x$y\nevil:x:0:0::/:/bin/sh";
  EXPECT_EQ(seedFiles(s).status().code(), Code::kInvalid);
  s = seedSpec();
  s.credentials.authorizedKey = "ssh-ed25519 AAAA\nssh-ed25519 BBBB";
  EXPECT_EQ(seedFiles(s).status().code(), Code::kInvalid);
}

TEST(LibvirtSeed, HostNamesAndYamlQuoting) {
  EXPECT_EQ(guestHostName("ksg.T_01"), "ksg-t-01");
  EXPECT_EQ(guestHostName("..."), "darasa-lab");
  EXPECT_EQ(guestHostName(std::string(100, 'a')).size(), 63u);
  EXPECT_EQ(yamlQuote("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
}

TEST(LibvirtOptions, DefaultsEnvironmentAndErrors) {
  ::unsetenv("DARASA_LIBVIRT_URI");
  ::unsetenv("DARASA_VM_IMAGES");
  auto o = parseLibvirtOptions(ProviderConfig{"libvirt", "/state", {}});
  ASSERT_TRUE(o.isOk()) << o.status().toString();
  EXPECT_EQ(o->uri, "qemu:///system");
  EXPECT_EQ(o->imageDir, "/var/lib/darasa/images");
  EXPECT_EQ(o->labDir, "/var/lib/libvirt/images/darasa");
  EXPECT_EQ(o->domainType, "auto");

  ::setenv("DARASA_LIBVIRT_URI", "qemu:///session", 1);
  o = parseLibvirtOptions(ProviderConfig{"libvirt", "/state", {}});
  ::unsetenv("DARASA_LIBVIRT_URI");
  ASSERT_TRUE(o.isOk());
  EXPECT_EQ(o->uri, "qemu:///session");
  EXPECT_EQ(o->labDir, "/state/libvirt") << "session QEMU runs as the caller: the state dir will do";

  o = parseLibvirtOptions(ProviderConfig{"libvirt", "/state",
                                         {{"memory", "256Mi"}, {"disk", "2Gi"}, {"stopTimeout", "5"},
                                          {"domainType", "qemu"}, {"labDir", "/l"}, {"imageDir", "/i"}}});
  ASSERT_TRUE(o.isOk()) << o.status().toString();
  EXPECT_EQ(o->defaultMemoryBytes, 256LL << 20);
  EXPECT_EQ(o->defaultDiskBytes, 2LL << 30);
  EXPECT_EQ(o->stopTimeoutSeconds, 5);
  EXPECT_EQ(o->labDir, "/l");
  EXPECT_EQ(o->imageDir, "/i");

  for (auto bad : std::vector<std::map<std::string, std::string>>{
           {{"nosuch", "1"}},
           {{"uri", "qemu+ssh://host/system"}},
           {{"uri", "lxc:///"}},
           {{"domainType", "xen"}},
           {{"memory", "64Mi"}},
           {{"memory", "lots"}},
           {{"stopTimeout", "-1"}}}) {
    auto r = parseLibvirtOptions(ProviderConfig{"libvirt", "/state", bad});
    EXPECT_EQ(r.status().code(), Code::kInvalid) << bad.begin()->first << "=" << bad.begin()->second;
  }
}

}  // namespace
}  // namespace darasa::providers::libvirt
