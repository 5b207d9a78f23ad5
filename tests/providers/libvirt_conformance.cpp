#include "libvirt_conformance.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "libvirt/libvirt_provider.h"

namespace darasa::conformance {

namespace {

std::string imageDir() {
  const char* d = std::getenv("DARASA_VM_IMAGES");
  return d && *d ? d : "/var/lib/darasa/images";
}

}  // namespace

ConformanceTarget libvirtConformanceTarget() {
  namespace fs = std::filesystem;
  ConformanceTarget t;
  t.name = "libvirt";
  std::error_code ec;
  if (!fs::exists("/run/libvirt/libvirt-sock", ec))
    t.missing = "libvirtd is not running (no /run/libvirt/libvirt-sock): start it with scripts/libvirt-service.sh";
  else if (!fs::exists(imageDir() + "/busybox-vm/vmlinuz", ec))
    t.missing = "the example VM guest is not built (" + imageDir() +
                "/busybox-vm): run examples/images/build-vm-guest.sh";
  t.make = [](const std::string& dir) -> Result<std::unique_ptr<Provider>> {
    // QEMU runs as libvirt-qemu: it must be able to reach the lab files
    // through the test's (mkdtemp, 0700) directory.
    ::chmod(dir.c_str(), 0711);
    return providers::libvirt::makeLibvirtProviderFromConfig(ProviderConfig{
        "libvirt", dir + "/state",
        {{"uri", "qemu:///system"}, {"imageDir", imageDir()}, {"labDir", dir + "/labs"}, {"stopTimeout", "20"}}});
  };
  t.spec = [](const std::string& cohort, const std::string& trainee) {
    LabSpec s;
    s.labId = cohort + "." + trainee;
    s.cohort = cohort;
    s.trainee = trainee;
    s.generation = 1;
    s.templateName = "conformance";
    s.templateHash = "c0ffee";
    s.provider = "libvirt";
    s.image = "busybox-vm";
    // The guest serves busybox httpd on 8080 (and dropbear on 22).
    s.ports = {{"web", 8080, "http"}};
    s.readiness.tcpPort = "web";
    s.readiness.timeout = std::chrono::seconds(120);
    s.access.password = false;
    s.access.sshKey = false;
    s.credentials.user = "trainee";
    s.resources.memoryBytes = 96LL << 20;
    s.resources.cpuMillis = 1000;
    s.labels = {{kLabelLab, s.labId}, {kLabelCohort, cohort}, {kLabelTrainee, trainee}, {kLabelGeneration, "1"}};
    return s;
  };
  return t;
}

}  // namespace darasa::conformance
