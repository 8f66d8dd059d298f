// fs/host_lsm.cc: see host_lsm.h.
#include "fs/host_lsm.h"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace dfs::fs {

Result<LabelReaders> SelinuxLabelReaders(const std::string& sysfs) {
  const std::string securityfs = sysfs + "/kernel/security";
  std::ifstream in(securityfs + "/lsm");
  if (!in) {
    return Status(Code::kUnavailable, "cannot read " + securityfs +
                                          "/lsm, the kernel's list of security modules (is "
                                          "securityfs mounted?)");
  }
  std::string names;
  std::getline(in, names);  // an empty list is a list
  LabelReaders r;
  std::stringstream ss(names);
  std::string name;
  while (std::getline(ss, name, ',')) {
    if (name == "selinux") r.selinux = true;
    if (name == "evm" || name == "integrity") r.evm = true;
  }
  if (access((securityfs + "/evm").c_str(), F_OK) == 0 ||
      access((securityfs + "/integrity/evm/evm").c_str(), F_OK) == 0) {
    r.evm = true;
  }
  return r;
}

}  // namespace dfs::fs
