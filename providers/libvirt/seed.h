// The NoCloud seed of a VM lab: the files of a "cidata" ISO that carry the
// trainee's credentials and the lab's host name into the guest. cloud-init
// images read meta-data and user-data; darasa's minimal guest
// (examples/images/vm-guest/init) reads the plain files under darasa/.
// Pure functions; thread-safe.
#pragma once

#include <map>
#include <string>

#include "provisioner/model.h"
#include "provisioner/status.h"

namespace darasa::providers::libvirt {

// Path inside the ISO → content. Always meta-data, user-data and
// darasa/user; darasa/password.hash when access.password and a hash was
// given; darasa/authorized_keys when access.sshKey and a key was given.
// kInvalid for a user name or hash that could smuggle text into the files.
Result<std::map<std::string, std::string>> seedFiles(const LabSpec& spec);

// A host name for the guest made from the lab id: lower case letters, digits
// and '-', at most 63 characters.
std::string guestHostName(const std::string& labId);

// A YAML scalar that means exactly s (a JSON string: YAML accepts it).
std::string yamlQuote(const std::string& s);

}  // namespace darasa::providers::libvirt
