// fs/host_lsm.h: which modules of this kernel read a file's security.selinux attribute, for
// selinux_xattr=auto (docs/mount.md, "SELinux labels").
//
// Two do: SELinux (its labels), and EVM, which folds every protected security.* attribute it
// finds into its HMAC and takes any answer but "no such attribute" as a failed check. The kernel
// names its active security modules in securityfs (`kernel/security/lsm` under sysfs's mount point,
// comma-separated; EVM is "evm" there since Linux 6.9, part of "integrity" before), and EVM, when
// built in, has its own file there (`evm`, or `integrity/evm/evm`). Without securityfs nothing
// tells about EVM, so the answer is an error rather than a guess.
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
