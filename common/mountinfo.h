// common/mountinfo.h: reading /proc/self/mountinfo (proc(5)). Used by the daemon to find its own
// mount and by `digestctl status`; neither touches the mount itself.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dfs {

struct MountEntry {
  std::string majmin;      // "0:52"
  std::string mountpoint;  // unescaped
  std::string options;     // per-mount options ("rw,nosuid,...")
  std::string fstype;      // "fuse.digestfs"
  std::string source;      // unescaped
};

// Undoes mountinfo's octal escapes (\040 for a space, \012 for a newline, ...).
std::string UnescapeMountinfo(std::string_view s);

// Parses one mountinfo line; nullopt if it is malformed.
std::optional<MountEntry> ParseMountinfoLine(const std::string& line);

// The topmost mount at `mountpoint` (a canonical path), of type `fstype` if non-empty.
std::optional<MountEntry> FindMount(const std::string& mountpoint, std::string_view fstype = {});

}  // namespace dfs
