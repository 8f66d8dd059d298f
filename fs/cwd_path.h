// fs/cwd_path.h: the path of a lower directory, from getcwd(2) in the calling thread's own
// fs_struct.
//
// The Gate is given the current path of a file at every open, built from its directory's path:
// the kernel's d_path of the descriptor held for the directory. A readlink of /proc/self/fd/N gives
// that string at the cost of a procfs lookup and its ptrace checks (2.2 us a call on the 2-core VMs
// of docs/benchmarks.md); fchdir(2) to the descriptor, getcwd(2) and fchdir(2) back give the same
// string in 1.3 us. Each thread that does so first unshares its fs_struct (unshare(CLONE_FS): a
// thread starts out sharing its creator's, which may be one that does this too), and always
// returns to the working directory the process had when InitCwdHome() was called. Not for use
// under a caller's fsuid (ScopedCreds): fchdir checks search permission as the fsuid (it would then
// answer kNoCwdPath for a directory the caller may not search, which is correct but slow).
#pragma once

#include <sys/types.h>

#include <cstddef>

namespace dfs::fs {

// CwdPath's answer where it cannot give the path: the caller reads /proc/self/fd/N instead.
inline constexpr ssize_t kNoCwdPath = -2;

// Records the process's working directory as the one every thread returns to. Call before any
// thread calls CwdPath (the InodeTable constructor does; later calls change nothing). false: it
// could not be opened, and CwdPath always answers kNoCwdPath.
bool InitCwdHome();

// The path of directory `dirfd` in buf (NUL-terminated; size above PATH_MAX), and its length.
// -1 with errno ENOENT (the directory is deleted) or ENAMETOOLONG (longer than PATH_MAX).
// kNoCwdPath where this thread cannot tell: no home, unshare or fchdir refused, or the directory
// is not reachable from this process's root (getcwd's "(unreachable)/...", where readlink gives
// another string; the caller's fallback keeps that answer as it was).
ssize_t CwdPath(int dirfd, char* buf, size_t size);

}  // namespace dfs::fs
