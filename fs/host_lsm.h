// fs/host_lsm.h: whether SELinux is active on this host, for selinux_xattr=auto (docs/mount.md,
// "SELinux labels").
//
// The kernel names its active security modules in securityfs (`kernel/security/lsm` under sysfs's
// mount point, comma-separated). Where securityfs is not mounted, SELinux's own file system has a
// mount point under sysfs (`fs/selinux`) exactly when SELinux was enabled at boot. Where sysfs
// itself is missing (a daemon started in a namespace without it), nothing tells.
//
// Thread safety: no shared state.
#pragma once

#include <string>

#include "common/status.h"

namespace dfs::fs {

// `sysfs` is sysfs's mount point ("/sys"; another directory in tests). Returns whether SELinux is
// one of the active security modules. Errors: kUnavailable when neither securityfs's list nor
// sysfs can be read (the message names the paths tried).
Result<bool> SelinuxActive(const std::string& sysfs = "/sys");

}  // namespace dfs::fs
