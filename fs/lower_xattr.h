// fs/lower_xattr.h: extended attributes of a lower inode held by an O_PATH descriptor.
//
// The inode is reached through its /proc/self/fd magic link: resolving a magic link lands on the
// very inode held (no name is walked that a rename could redirect), and a symlink reached that
// way is not followed further, so the calls act on the symlink itself. Linux 6.13's *xattrat()
// calls take no O_PATH descriptor (EBADF), but they take a path relative to a directory: relative
// to the daemon's open /proc/self/fd the walk is one component and its magic link, where the
// classic calls walk "/proc/self/fd/N" from the root (about 0.9 us less per call on the 2-core VMs
// of docs/benchmarks.md, where that walk was most of a warm GETXATTR's daemon time).
// Reads (Get, List) use the relative form if Init() found that the kernel has it and that it
// answers a probe exactly as the classic form does (an older kernel, or a seccomp filter that does
// not know the new calls, leaves the classic form). Writes (Set, Remove: rare, and not probed, as
// a probe would have to write) always use the classic form. Each call returns what the classic
// call would: the result, or -1 with errno set.
#pragma once

#include <sys/types.h>

#include <cstddef>

namespace dfs::fs {

class LowerXattr {
 public:
  // proc_self_fd: an O_PATH descriptor of /proc/self/fd (kept open by the caller for as long as
  // this object is used). probe_fd: an O_PATH descriptor of a lower inode the probe may read an
  // attribute of (the lower root). prefer_relative false: always the classic form (tests).
  void Init(int proc_self_fd, int probe_fd, bool prefer_relative = true);
  bool relative() const { return relative_; }

  ssize_t Get(int fd, const char* name, void* value, size_t size) const;
  ssize_t List(int fd, char* list, size_t size) const;
  int Set(int fd, const char* name, const void* value, size_t size, int flags) const;
  int Remove(int fd, const char* name) const;

 private:
  int proc_fd_ = -1;
  bool relative_ = false;
};

}  // namespace dfs::fs
