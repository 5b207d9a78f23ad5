// What a darasa VM lab is in libvirt's terms, as plain data and text: the
// domain XML made from a LabSpec and a resolved image, the darasa <metadata>
// element that records ownership (read back after a crash), and parsers for
// what libvirt and QEMU answer (metadata, HMP "info usernet"). Pure functions
// without libvirt; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "provisioner/model.h"

namespace darasa::providers::libvirt {

// The namespace of darasa's element in a domain's <metadata>.
inline constexpr const char* kMetadataUri = "https://darasa.dev/xmlns/libvirt-lab/1";
inline constexpr const char* kMetadataPrefix = "darasa";

// A VM image as found in the provider's image directory.
//   kernel: a directory with vmlinuz and initrd.img (direct kernel boot),
//           optionally cmdline, ready-marker and a base disk disk.qcow2
//   disk:   a bootable disk image file (qcow2 or raw), booted by the BIOS;
//           cloud-init images read the NoCloud seed
struct VmImage {
  enum class Kind { kKernel, kDisk };
  Kind kind = Kind::kDisk;
  std::string path;         // the directory (kernel) or the file (disk)
  std::string kernel;       // kernel: <dir>/vmlinuz
  std::string initrd;       // kernel: <dir>/initrd.img
  std::string cmdline;      // kernel: the command line (from <dir>/cmdline)
  std::string baseDisk;     // disk: the file; kernel: <dir>/disk.qcow2 if present
  std::string baseFormat;   // qcow2 | raw ("" when there is no base disk)
  std::string readyMarker;  // serial console line that means "ready" ("" none)
};

// What the provider records in the domain's metadata and reads back.
struct LabMetadata {
  Labels labels;                // darasa.lab, darasa.cohort, ... and the template's
  std::vector<PortSpec> ports;  // the lab's ports, in spec order
  std::string filesDir;         // the lab's directory (overlay, seed, console log)
  std::string readyMarker;      // "" = none
  std::string network;          // NetworkMode name
};

// Everything the domain XML is made from.
struct DomainPlan {
  std::string name;          // libvirt domain name
  std::string domainType;    // kvm | qemu
  int64_t memoryKiB = 0;
  int vcpus = 1;
  int64_t cpuQuotaUs = 0;    // per vCPU per 100 ms period; 0 = no cap
  VmImage image;
  std::string overlay;       // the lab's qcow2 disk
  std::string seed;          // the NoCloud seed ISO
  std::string console;       // the serial console log file
  bool network = true;       // false: no NIC (network none)
  LabMetadata metadata;
};

// The <domain> XML for virDomainDefineXML.
std::string domainXml(const DomainPlan& plan);

// Just the darasa metadata element (what virDomainGetMetadata returns).
std::string metadataXml(const LabMetadata& m);

// Parses darasa's metadata element, with or without a namespace prefix or
// declaration (virDomainGetMetadata returns it bare); nullopt when it declares
// another namespace or carries no darasa.lab label.
std::optional<LabMetadata> parseMetadata(const std::string& xml);

// The QEMU -netdev argument: user-mode networking that only forwards the
// lab's ports from 127.0.0.1 (host port 0: QEMU picks a free one; read it back
// with `info usernet`); restrict=on, so the guest cannot open connections out.
std::string netdevArg(const std::vector<PortSpec>& ports);

// Host forwards from HMP "info usernet": guest port → host port (127.0.0.1).
std::map<int, int> parseUsernetForwards(const std::string& hmpOutput);

// Endpoints for the lab's ports, from the forwards seen; ports not forwarded
// (yet) are left out.
std::vector<Endpoint> endpointsFor(const std::vector<PortSpec>& ports, const std::map<int, int>& forwards);

// XML text escaping for element content and attribute values.
std::string xmlEscape(const std::string& s);
std::string xmlUnescape(const std::string& s);

// "darasa-<labId>".
std::string domainNameFor(const std::string& labId);

// Lab ids become domain and file names: [A-Za-z0-9._-], not starting with
// '.' or '-', at most 200 characters.
bool validLabId(const std::string& labId);

// vCPUs and the CFS quota per vCPU (100 ms period) for a cap in milli-CPUs:
// 1500m → 2 vCPUs at 75 ms each; 0 → 1 vCPU, no quota.
std::pair<int, int64_t> vcpusFor(int64_t cpuMillis);

}  // namespace darasa::providers::libvirt
