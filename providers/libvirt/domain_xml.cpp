#include "libvirt/domain_xml.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <sstream>

namespace darasa::providers::libvirt {

namespace {

constexpr int64_t kPeriodUs = 100000;

std::string attr(const std::string& name, const std::string& value) {
  return " " + name + "='" + xmlEscape(value) + "'";
}

// One start or empty tag of the tolerant scanner below.
struct Tag {
  std::string name;  // local name, without a namespace prefix
  std::map<std::string, std::string> attrs;
  bool selfClosing = false;
  std::string text;  // character data up to the next tag (start tags only)
};

bool isNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == ':' || c == '-' || c == '_' || c == '.';
}

// Start tags of an XML fragment in document order. Enough for the element
// darasa writes itself (no CDATA, no entities beyond the five predefined and
// numeric ones); anything it does not understand it skips.
std::vector<Tag> startTags(const std::string& xml) {
  std::vector<Tag> out;
  size_t i = 0;
  while ((i = xml.find('<', i)) != std::string::npos) {
    if (xml.compare(i, 4, "<!--") == 0) {
      size_t e = xml.find("-->", i + 4);
      if (e == std::string::npos) break;
      i = e + 3;
      continue;
    }
    if (i + 1 < xml.size() && (xml[i + 1] == '?' || xml[i + 1] == '!' || xml[i + 1] == '/')) {
      size_t e = xml.find('>', i);
      if (e == std::string::npos) break;
      i = e + 1;
      continue;
    }
    size_t p = i + 1;
    size_t nameStart = p;
    while (p < xml.size() && isNameChar(xml[p])) ++p;
    Tag tag;
    std::string qname = xml.substr(nameStart, p - nameStart);
    size_t colon = qname.find(':');
    tag.name = colon == std::string::npos ? qname : qname.substr(colon + 1);
    bool closed = false;
    while (p < xml.size()) {
      while (p < xml.size() && std::isspace(static_cast<unsigned char>(xml[p]))) ++p;
      if (p >= xml.size()) break;
      if (xml[p] == '>') {
        closed = true;
        ++p;
        break;
      }
      if (xml.compare(p, 2, "/>") == 0) {
        tag.selfClosing = true;
        closed = true;
        p += 2;
        break;
      }
      size_t an = p;
      while (p < xml.size() && isNameChar(xml[p])) ++p;
      std::string aname = xml.substr(an, p - an);
      while (p < xml.size() && std::isspace(static_cast<unsigned char>(xml[p]))) ++p;
      if (aname.empty() || p >= xml.size() || xml[p] != '=') break;
      ++p;
      while (p < xml.size() && std::isspace(static_cast<unsigned char>(xml[p]))) ++p;
      if (p >= xml.size() || (xml[p] != '"' && xml[p] != '\'')) break;
      char q = xml[p++];
      size_t e = xml.find(q, p);
      if (e == std::string::npos) break;
      tag.attrs[aname] = xmlUnescape(xml.substr(p, e - p));
      p = e + 1;
    }
    if (!closed) break;
    if (!tag.selfClosing) {
      size_t e = xml.find('<', p);
      tag.text = xmlUnescape(xml.substr(p, e == std::string::npos ? std::string::npos : e - p));
    }
    out.push_back(std::move(tag));
    i = p;
  }
  return out;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

bool toInt(const std::string& s, int& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::string xmlEscape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string xmlUnescape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out += s[i];
      continue;
    }
    size_t semi = s.find(';', i);
    if (semi == std::string::npos) {
      out += s.substr(i);
      break;
    }
    std::string ent = s.substr(i + 1, semi - i - 1);
    if (ent == "amp") out += '&';
    else if (ent == "lt") out += '<';
    else if (ent == "gt") out += '>';
    else if (ent == "quot") out += '"';
    else if (ent == "apos") out += '\'';
    else if (!ent.empty() && ent[0] == '#') {
      unsigned long code = 0;
      const char* b = ent.c_str() + 1;
      int base = 10;
      if (*b == 'x' || *b == 'X') {
        ++b;
        base = 16;
      }
      auto [p, ec] = std::from_chars(b, ent.c_str() + ent.size(), code, base);
      if (ec != std::errc() || p != ent.c_str() + ent.size() || code > 0x10FFFF) {
        out += s.substr(i, semi - i + 1);
      } else if (code < 0x80) {
        out += static_cast<char>(code);
      } else if (code < 0x800) {
        out += static_cast<char>(0xC0 | (code >> 6));
        out += static_cast<char>(0x80 | (code & 0x3F));
      } else if (code < 0x10000) {
        out += static_cast<char>(0xE0 | (code >> 12));
        out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (code & 0x3F));
      } else {
        out += static_cast<char>(0xF0 | (code >> 18));
        out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (code & 0x3F));
      }
    } else {
      out += s.substr(i, semi - i + 1);
    }
    i = semi;
  }
  return out;
}

std::string domainNameFor(const std::string& labId) { return "darasa-" + labId; }

bool validLabId(const std::string& labId) {
  if (labId.empty() || labId.size() > 200 || labId[0] == '.' || labId[0] == '-') return false;
  return std::all_of(labId.begin(), labId.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

std::pair<int, int64_t> vcpusFor(int64_t cpuMillis) {
  if (cpuMillis <= 0) return {1, 0};
  int vcpus = static_cast<int>((cpuMillis + 999) / 1000);
  if (cpuMillis % 1000 == 0) return {vcpus, 0};
  // The cap spread over the vCPUs: each may use its share of every period.
  return {vcpus, cpuMillis * kPeriodUs / 1000 / vcpus};
}

std::string metadataXml(const LabMetadata& m) {
  std::ostringstream x;
  std::string p = std::string(kMetadataPrefix) + ":";
  x << "<" << p << "lab xmlns:" << kMetadataPrefix << "='" << kMetadataUri << "'>\n";
  for (const auto& [k, v] : m.labels)
    x << "  <" << p << "label" << attr("key", k) << ">" << xmlEscape(v) << "</" << p << "label>\n";
  for (const auto& port : m.ports)
    x << "  <" << p << "port" << attr("name", port.name) << attr("port", std::to_string(port.port))
      << attr("protocol", port.protocol) << "/>\n";
  if (!m.filesDir.empty()) x << "  <" << p << "files" << attr("dir", m.filesDir) << "/>\n";
  if (!m.readyMarker.empty())
    x << "  <" << p << "ready-marker>" << xmlEscape(m.readyMarker) << "</" << p << "ready-marker>\n";
  if (!m.network.empty()) x << "  <" << p << "network>" << xmlEscape(m.network) << "</" << p << "network>\n";
  x << "</" << p << "lab>";
  return x.str();
}

std::optional<LabMetadata> parseMetadata(const std::string& xml) {
  auto tags = startTags(xml);
  if (tags.empty() || tags[0].name != "lab") return std::nullopt;
  // virDomainGetMetadata, asked for darasa's namespace, gives the element
  // back without any namespace declaration; one that declares another
  // namespace is not darasa's.
  bool declared = false, ours = false;
  for (const auto& [k, v] : tags[0].attrs) {
    if (k != "xmlns" && k.rfind("xmlns:", 0) != 0) continue;
    declared = true;
    if (v == kMetadataUri) ours = true;
  }
  if (declared && !ours) return std::nullopt;
  LabMetadata m;
  for (size_t i = 1; i < tags.size(); ++i) {
    const Tag& t = tags[i];
    auto a = [&](const char* k) {
      auto it = t.attrs.find(k);
      return it == t.attrs.end() ? std::string() : it->second;
    };
    if (t.name == "label" && !a("key").empty()) {
      m.labels[a("key")] = t.selfClosing ? "" : t.text;
    } else if (t.name == "port") {
      PortSpec ps;
      ps.name = a("name");
      if (!toInt(a("port"), ps.port)) continue;
      ps.protocol = a("protocol").empty() ? "tcp" : a("protocol");
      m.ports.push_back(ps);
    } else if (t.name == "files") {
      m.filesDir = a("dir");
    } else if (t.name == "ready-marker") {
      m.readyMarker = t.text;
    } else if (t.name == "network") {
      m.network = trim(t.text);
    }
  }
  if (!m.labels.count(kLabelLab) || m.labels.at(kLabelLab).empty()) return std::nullopt;
  return m;
}

std::string netdevArg(const std::vector<PortSpec>& ports) {
  std::string a = "user,id=darasa0,restrict=on";
  for (const auto& p : ports) a += ",hostfwd=tcp:127.0.0.1:0-:" + std::to_string(p.port);
  return a;
}

std::map<int, int> parseUsernetForwards(const std::string& hmp) {
  // "  TCP[HOST_FORWARD]  13   127.0.0.1 46793   10.0.2.15    22     0     0"
  std::map<int, int> out;
  std::istringstream in(hmp);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::vector<std::string> w;
    for (std::string t; f >> t;) w.push_back(t);
    if (w.size() < 6 || w[0] != "TCP[HOST_FORWARD]") continue;
    int hostPort = 0, guestPort = 0;
    if (!toInt(w[3], hostPort) || !toInt(w[5], guestPort) || hostPort <= 0 || guestPort <= 0) continue;
    out[guestPort] = hostPort;
  }
  return out;
}

std::vector<Endpoint> endpointsFor(const std::vector<PortSpec>& ports, const std::map<int, int>& forwards) {
  std::vector<Endpoint> out;
  for (const auto& p : ports) {
    auto it = forwards.find(p.port);
    if (it == forwards.end()) continue;
    out.push_back(Endpoint{p.name, p.protocol, "127.0.0.1", it->second});
  }
  return out;
}

std::string domainXml(const DomainPlan& plan) {
  std::ostringstream x;
  const bool kernelBoot = plan.image.kind == VmImage::Kind::kKernel;
  x << "<domain" << attr("type", plan.domainType)
    << " xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n";
  x << "  <name>" << xmlEscape(plan.name) << "</name>\n";
  std::string labId = plan.metadata.labels.count(kLabelLab) ? plan.metadata.labels.at(kLabelLab) : "";
  x << "  <title>" << xmlEscape("darasa lab " + labId) << "</title>\n";
  x << "  <metadata>\n" << metadataXml(plan.metadata) << "\n  </metadata>\n";
  // No <memtune><hard_limit>: it makes start fail on machines like the ones
  // darasa is tested on, and QEMU's own overhead would count against it.
  x << "  <memory unit='KiB'>" << plan.memoryKiB << "</memory>\n";
  x << "  <currentMemory unit='KiB'>" << plan.memoryKiB << "</currentMemory>\n";
  x << "  <vcpu placement='static'>" << plan.vcpus << "</vcpu>\n";
  if (plan.cpuQuotaUs > 0)
    x << "  <cputune>\n    <period>" << kPeriodUs << "</period>\n    <quota>" << plan.cpuQuotaUs
      << "</quota>\n  </cputune>\n";
  x << "  <os>\n    <type arch='x86_64' machine='pc'>hvm</type>\n";
  if (kernelBoot) {
    x << "    <kernel>" << xmlEscape(plan.image.kernel) << "</kernel>\n";
    x << "    <initrd>" << xmlEscape(plan.image.initrd) << "</initrd>\n";
    x << "    <cmdline>" << xmlEscape(plan.image.cmdline) << "</cmdline>\n";
  } else {
    x << "    <boot dev='hd'/>\n";
  }
  x << "  </os>\n";
  x << "  <features>\n    <acpi/>\n    <apic/>\n  </features>\n";
  // Under TCG the default model (qemu64) emulates fastest; with KVM give the
  // guest the host's CPU.
  if (plan.domainType == "kvm") x << "  <cpu mode='host-passthrough' check='none'/>\n";
  x << "  <clock offset='utc'/>\n";
  // A stop is an ACPI power-off, after which the domain is shut off; a
  // trainee's reboot restarts the guest.
  x << "  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>restart</on_reboot>\n"
       "  <on_crash>destroy</on_crash>\n";
  x << "  <devices>\n";
  x << "    <disk type='file' device='disk'>\n      <driver name='qemu' type='qcow2' discard='unmap'/>\n"
    << "      <source" << attr("file", plan.overlay) << "/>\n      <target dev='vda' bus='virtio'/>\n"
    << "    </disk>\n";
  x << "    <disk type='file' device='disk'>\n      <driver name='qemu' type='raw'/>\n"
    << "      <source" << attr("file", plan.seed) << "/>\n      <target dev='vdb' bus='virtio'/>\n"
    << "      <readonly/>\n    </disk>\n";
  // append='off': the log holds this boot only, so a readiness marker in it
  // is from this boot.
  x << "    <serial type='file'>\n      <source" << attr("path", plan.console)
    << " append='off'/>\n      <target port='0'/>\n    </serial>\n";
  // No <graphics> (type none is refused) and no balloon: the guest gets what
  // the template gives it.
  x << "    <memballoon model='none'/>\n";
  x << "  </devices>\n";
  if (plan.network) {
    // libvirt's <interface type='user'> cannot forward ports (before passt):
    // give QEMU the netdev directly, on a PCI slot libvirt leaves free.
    x << "  <qemu:commandline>\n"
      << "    <qemu:arg value='-netdev'/>\n"
      << "    <qemu:arg" << attr("value", netdevArg(plan.metadata.ports)) << "/>\n"
      << "    <qemu:arg value='-device'/>\n"
      << "    <qemu:arg value='virtio-net-pci,netdev=darasa0,bus=pci.0,addr=0x1e'/>\n"
      << "  </qemu:commandline>\n";
  }
  x << "</domain>\n";
  return x.str();
}

}  // namespace darasa::providers::libvirt
