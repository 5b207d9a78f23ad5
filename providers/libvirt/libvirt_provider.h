// The "libvirt" provider: one VM per lab through libvirt's C API (QEMU; KVM
// where QEMU may use /dev/kvm, software emulation (TCG) otherwise). Tested with
// libvirt 9.0 and QEMU 7.2 on Debian 12 without KVM. Thread-safe: every
// Provider call may run at once (one libvirt connection is shared; work on
// one lab is serialised within the process).
//
// Options (ProviderConfig::options, or LibvirtOptions directly; all optional):
//   uri          libvirt URI; default $DARASA_LIBVIRT_URI, else qemu:///system.
//                Only local URIs: the lab files live on this machine.
//   imageDir     where images are found; default $DARASA_VM_IMAGES, else
//                /var/lib/darasa/images
//   labDir       where each lab's overlay, seed and console log go; default
//                /var/lib/libvirt/images/darasa for system URIs (QEMU runs as
//                libvirt-qemu and must reach the files: a state directory
//                under /root would not do), <stateDir>/libvirt otherwise
//   domainType   auto | kvm | qemu (default auto: kvm when kvm_intel or
//                kvm_amd is loaded and QEMU may open /dev/kvm, else qemu,
//                i.e. TCG; a /dev/kvm of kvm_pvm, as on darasa's test
//                machines, boots only PVM guest kernels)
//   stopTimeout  seconds between the ACPI power button and a hard power-off
//                in stop() (default 30)
//   memory       guest RAM when a template sets none (default 128Mi; the
//                example guest needs at least 80Mi)
//   disk         size of a lab's disk when the template sets none and the
//                image has no base disk (default 1Gi, allocated as used)
//   maxParallel  calls worth running at once (default 4)
//
// Images (LabSpec::image: an absolute path, or a name under imageDir):
//   a directory  direct kernel boot: vmlinuz + initrd.img, optional cmdline
//                (one line), ready-marker (a serial console line that means
//                the guest is ready) and disk.qcow2 (base of the lab's disk);
//                examples/images/build-vm-guest.sh makes "busybox-vm"
//   a file       a bootable disk (qcow2 or raw), booted by the BIOS; cloud-init
//                images pick up the NoCloud seed
//
// What a lab is: a persistent domain "darasa-<lab id>" whose <metadata>
// holds a darasa element (namespace https://darasa.dev/xmlns/libvirt-lab/1)
// with the lab's labels (darasa.lab, .cohort, .trainee, .generation,
// .template-hash, .state and the template's), its ports, its files
// directory and its ready marker; list() finds labs by that element alone, so
// labs are found again after a crash, and domains without it are never
// listed, changed or removed. Files, under <labDir>/<lab id>/:
//   disk.qcow2   the lab's disk: a copy-on-write overlay over the image's base
//                disk, or an empty qcow2 of resources.disk (the example guest
//                formats it and mounts it on /home); kept across stop/start
//   seed.iso     NoCloud "cidata" seed (meta-data, user-data, and darasa/user,
//                darasa/password.hash, darasa/authorized_keys), attached as a
//                read-only virtio disk; 0600
//   console.log  the serial console of the current boot
// destroy() removes the domain and exactly these files (and the directory
// once empty), nothing else.
//
// Resources: cpus → vCPUs (rounded up) with a CFS quota for fractions;
// memory → guest RAM (no host-side hard limit: QEMU itself needs about 100 MB
// more under TCG); disk → the lab disk's size; pids is not applicable.
// validate() refuses more memory or vCPUs than the host has.
// Network: isolated (default) → QEMU user-mode networking with restrict=on
// (the guest reaches nothing outside) and each port forwarded from a port on
// 127.0.0.1 that QEMU picks at every start (read back through the monitor);
// none → no network card (and no ports). cohort and host are refused.
// Stop: ACPI power button (again every 5 s), a hard power-off after
// stopTimeout. Readiness (probe): the domain runs; the ready marker (the
// image's, or spec option readyMarker) is on this boot's console; the
// readiness.tcp port answers on 127.0.0.1 (a service that speaks first, or
// an HTTP answer for http ports; a silent port counts only once the marker was
// seen: QEMU accepts forwarded connections before the guest does). A kernel
// panic on the console is a terminal failure. exec is not supported.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "provisioner/provider.h"

namespace darasa::providers::libvirt {

struct LibvirtOptions {
  std::string uri = "qemu:///system";
  std::string imageDir = "/var/lib/darasa/images";
  std::string labDir = "/var/lib/libvirt/images/darasa";
  std::string domainType = "auto";  // auto | kvm | qemu
  int stopTimeoutSeconds = 30;
  int64_t defaultMemoryBytes = 128LL << 20;
  int64_t defaultDiskBytes = 1LL << 30;
  int maxParallel = 4;
};

// Options from a provider config (names above), with the environment's and
// the built-in defaults; kInvalid for an unknown option or a bad value.
Result<LibvirtOptions> parseLibvirtOptions(const ProviderConfig& config);

// Makes the provider; libvirtd is first contacted by the first call (usable()
// says whether it answers and how to start it). Never fails for a daemon that
// is not running.
std::unique_ptr<Provider> makeLibvirtProvider(LibvirtOptions options, std::string name = "libvirt");

// The registry's factory: parseLibvirtOptions + makeLibvirtProvider.
Result<std::unique_ptr<Provider>> makeLibvirtProviderFromConfig(const ProviderConfig& config);

}  // namespace darasa::providers::libvirt
