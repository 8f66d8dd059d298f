// fs/host_lsm.cc: see host_lsm.h.
#include "fs/host_lsm.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <string>

namespace dfs::fs {

Result<bool> SelinuxActive(const std::string& sysfs) {
  const std::string list = sysfs + "/kernel/security/lsm";
  std::ifstream in(list);
  std::string names;
  if (in && std::getline(in, names)) {
    std::stringstream ss(names);
    std::string name;
    while (std::getline(ss, name, ',')) {
      if (name == "selinux") return true;
    }
    return false;
  }
  // No securityfs: SELinux makes its mount point in sysfs when it is enabled at boot.
  struct stat st;
  if (stat((sysfs + "/fs/selinux").c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return true;
  if (stat((sysfs + "/kernel").c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return false;
  return Status(Code::kUnavailable, "cannot tell whether SELinux is active: neither " + list +
                                        " nor " + sysfs +
                                        "/kernel can be read (is sysfs mounted?)");
}

}  // namespace dfs::fs
