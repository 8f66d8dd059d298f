// fs/host_lsm.h: which modules of this kernel read a file's security.selinux attribute, for
// selinux_xattr=auto (docs/mount.md, "SELinux labels").
//
// Two do: SELinux (its labels), and EVM, which reads every protected security.* attribute of a
// file and, when one answers anything but "no such attribute", counts a file without
// security.evm as failing its check instead of as unprotected (chmod, chown and setxattr then get
// EPERM once an EVM key is loaded). The kernel names its active security modules in securityfs
// (`kernel/security/lsm` under sysfs's mount point, comma-separated): "selinux", and since Linux
// 6.9 "evm". Before 6.9 EVM was part of "integrity", which IMA alone also brings; it is counted
// as a reader, to be safe. EVM, when built in, has its own files there too (`evm`, or
// `integrity/evm/evm`). Without securityfs nothing tells about EVM, so the answer is an error
// rather than a guess (selinux_xattr=auto then keeps the lower file system's answers).
//
// Thread safety: no shared state.
#pragma once

#include <string>

#include "common/status.h"

namespace dfs::fs {

struct LabelReaders {
  bool selinux = false;  // SELinux is an active security module
  bool evm = false;      // EVM is built in (whether or not a key is loaded yet)
};

// `sysfs` is sysfs's mount point ("/sys"; another directory in tests). Errors: kUnavailable when
// securityfs's list of modules cannot be read (the message names the path).
Result<LabelReaders> SelinuxLabelReaders(const std::string& sysfs = "/sys");

}  // namespace dfs::fs
