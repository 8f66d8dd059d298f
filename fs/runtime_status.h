// fs/runtime_status.h: the file a running digestfs daemon publishes about its mount, read by
// `digestctl status MOUNTPOINT` (docs/mount.md, "Runtime status").
//
//   /run/digestfs/MAJ:MIN.json   (MAJ:MIN: the mount's device number, as in /proc/self/mountinfo)
//   {"version":1,"pid":N,"source":"...","mountpoint":"...","mode":"enforce|permissive|off",
//    "verify":"open|blocks","store":"...","policy":"...","started":UNIX_SECONDS}
//
// Written (atomically: temp file + rename) once mounted, removed when the daemon unmounts.
// Invalid UTF-8 in paths is replaced by U+FFFD in the file. Only a root daemon writes it.
//
// Thread safety: call from the session's main thread.
#pragma once

#include <string>

#include "fs/options.h"

namespace dfs::fs {

inline constexpr const char* kRuntimeDir = "/run/digestfs";

class RuntimeStatus {
 public:
  // Publishes the status of the mount with device `majmin`; failures are logged, not fatal.
  void Publish(const std::string& majmin, const MountOptions& opts, const std::string& mountpoint);
  // Removes the file (also done by the destructor).
  void Remove();
  ~RuntimeStatus() { Remove(); }

 private:
  std::string path_;
};

}  // namespace dfs::fs
