// Host-side helpers of the libvirt provider: running qemu-img and the ISO
// tool within a deadline, the host's capacity, image lookup, reading the
// serial console log, and a TCP readiness check on 127.0.0.1. Thread-safe
// (no shared state; children are reaped by pid, SIGCHLD is left alone).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "libvirt/domain_xml.h"
#include "provisioner/provider.h"

namespace darasa::providers::libvirt {

// Runs argv (argv[0] looked up in PATH) with stdin from /dev/null; returns
// its stdout+stderr when it exits 0. kTimeout (and the child killed) at the
// deadline; kInternal with the output's tail when it fails; kUnavailable
// when the program cannot be started.
Result<std::string> runTool(const std::vector<std::string>& argv, const Deadline& deadline);

// The first of names found as an executable in PATH; "" if none.
std::string findInPath(const std::vector<std::string>& names);

struct HostCapacity {
  int64_t memoryBytes = 0;
  int cpus = 0;
};
// This machine's memory (MemTotal) and online CPUs.
HostCapacity localCapacity();

// Finds image (an absolute path, or a name under imageDir) and says what it
// is (see VmImage). kNotFound naming where it looked and how to build the
// example guest; kInvalid for a name that leaves imageDir.
Result<VmImage> resolveImage(const std::string& image, const std::string& imageDir);

// "qcow2" or "raw", by the file's first bytes.
std::string diskFormat(const std::string& path);

// Up to maxBytes from the end of a file ("" if it cannot be read).
std::string readTail(const std::string& path, size_t maxBytes);

enum class TcpAnswer {
  kRefused,  // no connection, or closed at once: nothing serves the port
  kSpoke,    // the service sent bytes first (SSH), or answered our request
  kSilent,   // connected, nothing said within the wait
};
// Connects to 127.0.0.1:port; with sendFirst non-empty, sends it after
// connecting (an HTTP request) and waits for any answer.
TcpAnswer tcpCheck(int port, const std::string& sendFirst, const Deadline& deadline);

// Whether QEMU started by libvirt can use KVM: hardware virtualisation
// (kvm_intel or kvm_amd loaded; /dev/kvm alone is not enough: a kvm_pvm
// /dev/kvm boots only PVM guest kernels). System URIs run QEMU as
// another user (libvirt-qemu): the device must be readable and writable
// beyond root (udev usually gives group kvm rw; without udev it is 0600 and
// KVM fails with "Permission denied"). Session URIs run QEMU as the caller.
bool kvmUsable(bool systemUri);

}  // namespace darasa::providers::libvirt
