#include "libvirt/seed.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace darasa::providers::libvirt {

namespace {

bool validUserName(const std::string& u) {
  if (u.empty() || u.size() > 32 || !(std::islower(static_cast<unsigned char>(u[0])) || u[0] == '_')) return false;
  return std::all_of(u.begin(), u.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_' ||
           c == '-';
  });
}

// crypt(3) hashes: "$id$salt$hash" (or with "rounds=N$"): no spaces, quotes
// or newlines that could change the shadow line the guest writes.
bool validHash(const std::string& h) {
  if (h.empty() || h.size() > 512) return false;
  return std::all_of(h.begin(), h.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '/' || c == '$' || c == '=';
  });
}

}  // namespace

std::string yamlQuote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string guestHostName(const std::string& labId) {
  std::string h;
  for (char c : labId) {
    unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u)) h += static_cast<char>(std::tolower(u));
    else if (!h.empty() && h.back() != '-') h += '-';
  }
  while (!h.empty() && h.back() == '-') h.pop_back();
  if (h.size() > 63) h.resize(63);
  while (!h.empty() && h.back() == '-') h.pop_back();
  return h.empty() ? "darasa-lab" : h;
}

Result<std::map<std::string, std::string>> seedFiles(const LabSpec& spec) {
  const auto& c = spec.credentials;
  std::string user = c.user.empty() ? spec.access.user : c.user;
  if (user.empty()) user = "trainee";
  if (!validUserName(user))
    return invalidError("access.user: \"" + user + "\" is not a valid user name (lower-case letters, digits, _ and -)");
  bool password = spec.access.password && !c.passwordHash.empty();
  bool key = spec.access.sshKey && !c.authorizedKey.empty();
  if (password && !validHash(c.passwordHash)) return invalidError("credentials: the password hash is malformed");
  if (key && c.authorizedKey.find_first_of("\r\n") != std::string::npos)
    return invalidError("credentials: the authorized key must be one line");

  std::map<std::string, std::string> files;
  std::string host = guestHostName(spec.labId);
  files["meta-data"] = "instance-id: " + yamlQuote("darasa-" + spec.labId) + "\nlocal-hostname: " + host + "\n";

  std::string ud = "#cloud-config\n";
  ud += "hostname: " + host + "\n";
  ud += "users:\n  - name: " + user + "\n    shell: /bin/bash\n";
  if (password) {
    ud += "    lock_passwd: false\n    passwd: " + yamlQuote(c.passwordHash) + "\n";
  } else {
    ud += "    lock_passwd: true\n";
  }
  if (key) ud += "    ssh_authorized_keys:\n      - " + yamlQuote(c.authorizedKey) + "\n";
  ud += std::string("ssh_pwauth: ") + (password ? "true" : "false") + "\n";
  files["user-data"] = ud;

  files["darasa/user"] = user + "\n";
  if (password) files["darasa/password.hash"] = c.passwordHash + "\n";
  if (key) files["darasa/authorized_keys"] = c.authorizedKey + "\n";
  return files;
}

}  // namespace darasa::providers::libvirt
