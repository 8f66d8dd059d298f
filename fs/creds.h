// fs/creds.h: acting as the calling process while creating things in the lower tree.
//
// ScopedCreds switches the *current thread's* fsuid, fsgid and supplementary groups to those of the
// FUSE request's caller (raw syscalls: glibc's setgroups() would change every thread), and restores
// the daemon's own on destruction. Objects the lower file system creates then belong to the caller,
// setgid directories and the setgid-bit stripping rules behave natively, and the thread's file
// system capabilities drop while the fsuid is not 0, exactly as for the caller.
//
// Thread safety: affects only the calling thread; not movable; must be destroyed on the thread that
// created it.
#pragma once

#include <fuse_lowlevel.h>
#include <sys/types.h>

namespace dfs::fs {

// Whether the daemon runs as root (then credential switching is active). Call once at startup;
// records the daemon's own supplementary groups for restoring.
void InitCreds();
bool CredsActive();

// Whether the calling thread has capability `cap` (CAP_*) in its effective set.
bool HaveCapability(int cap);

class ScopedCreds {
 public:
  explicit ScopedCreds(fuse_req_t req);
  ~ScopedCreds();
  ScopedCreds(const ScopedCreds&) = delete;
  ScopedCreds& operator=(const ScopedCreds&) = delete;

  // 0, or the errno that prevented switching (the operation must then fail with it).
  int error() const { return err_; }

 private:
  bool switched_ = false;
  int err_ = 0;
};

// Gives what the calling thread creates the caller's umask (fuse_ctx::umask) for its lifetime.
// With POSIX ACLs negotiated (FUSE_CAP_POSIX_ACL with FUSE_CAP_DONT_MASK) the kernel sends modes
// unmasked, and the lower file system applies this umask exactly as natively: only where the
// parent directory has no default ACL (which otherwise decides the new object's mode and ACL).
// The thread's umask is its own: the first use detaches the thread's fs_struct from the process
// (unshare(CLONE_FS)); if that fails, nothing is changed and error() is set.
//
// Thread safety: as ScopedCreds.
class ScopedUmask {
 public:
  explicit ScopedUmask(fuse_req_t req);
  ~ScopedUmask();
  ScopedUmask(const ScopedUmask&) = delete;
  ScopedUmask& operator=(const ScopedUmask&) = delete;

  int error() const { return err_; }

 private:
  bool set_ = false;
  mode_t old_ = 0;
  int err_ = 0;
};

}  // namespace dfs::fs
