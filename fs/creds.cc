#include "fs/creds.h"

#include <grp.h>
#include <sched.h>
#include <sys/stat.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <vector>

namespace dfs::fs {

namespace {

// Written once in InitCreds (before any request is served), then read-only.
bool g_active = false;
std::vector<gid_t> g_own_groups;
uid_t g_own_fsuid = 0;
gid_t g_own_fsgid = 0;

int SetGroups(size_t n, const gid_t* list) {
  return static_cast<int>(syscall(SYS_setgroups, n, list));
}

// The caller's full supplementary group list. Errors: the errno from fuse_req_getgroups (e.g. the
// caller is gone, /proc is unavailable), or EIO if the list would exceed NGROUPS_MAX.
int CallerGroups(fuse_req_t req, std::vector<gid_t>* out) {
  size_t cap = 64;
  for (;;) {
    out->resize(cap);
    int n = fuse_req_getgroups(req, static_cast<int>(cap), out->data());
    if (n < 0) return -n;
    if (static_cast<size_t>(n) <= cap) {
      out->resize(static_cast<size_t>(n));
      return 0;
    }
    // n is the full count: grow to it (bounded by the kernel's own limit).
    if (static_cast<size_t>(n) > static_cast<size_t>(NGROUPS_MAX)) return EIO;
    cap = static_cast<size_t>(n);
  }
}

}  // namespace

void InitCreds() {
  g_active = geteuid() == 0;
  // setfsuid/setfsgid with an invalid id change nothing and report the current one.
  g_own_fsuid = static_cast<uid_t>(syscall(SYS_setfsuid, -1));
  g_own_fsgid = static_cast<gid_t>(syscall(SYS_setfsgid, -1));
  int n = getgroups(0, nullptr);
  if (n > 0) {
    g_own_groups.resize(n);
    n = getgroups(n, g_own_groups.data());
    g_own_groups.resize(n > 0 ? n : 0);
  }
}

bool CredsActive() { return g_active; }

bool HaveCapability(int cap) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct caps[2]{};
  if (syscall(SYS_capget, &hdr, caps) != 0 || cap < 0 || cap >= 64) return false;
  return (caps[cap / 32].effective & (1u << (cap % 32))) != 0;
}

ScopedCreds::ScopedCreds(fuse_req_t req) {
  if (!g_active) return;
  const fuse_ctx* ctx = fuse_req_ctx(req);
  if (ctx->uid == 0 && ctx->gid == 0) return;  // root acts as the daemon does
  std::vector<gid_t> groups;
  if (int err = CallerGroups(req, &groups); err != 0) {
    // Never act with fewer groups than the caller has (a group can also deny, through a mode
    // such as 0707): fail the operation instead.
    err_ = err == ENOENT || err == ESRCH ? EIO : err;
    return;
  }
  switched_ = true;
  if (SetGroups(groups.size(), groups.data()) != 0) {
    err_ = errno;
    return;
  }
  syscall(SYS_setfsgid, ctx->gid);
  syscall(SYS_setfsuid, ctx->uid);
  // setfsuid/setfsgid report the previous id, not errors: check that they took effect.
  if (static_cast<uid_t>(syscall(SYS_setfsuid, -1)) != ctx->uid ||
      static_cast<gid_t>(syscall(SYS_setfsgid, -1)) != ctx->gid) {
    err_ = EPERM;
  }
}

ScopedCreds::~ScopedCreds() {
  if (!switched_) return;
  syscall(SYS_setfsuid, g_own_fsuid);
  syscall(SYS_setfsgid, g_own_fsgid);
  SetGroups(g_own_groups.size(), g_own_groups.data());
}

ScopedUmask::ScopedUmask(fuse_req_t req) {
  // Each thread's umask is its own once its fs_struct is unshared (cwd and root stay the same).
  thread_local bool own_fs = false;
  if (!own_fs) {
    if (unshare(CLONE_FS) != 0) {
      err_ = errno;
      return;
    }
    own_fs = true;
  }
  old_ = umask(fuse_req_ctx(req)->umask & 0777);
  set_ = true;
}

ScopedUmask::~ScopedUmask() {
  if (set_) umask(old_);
}

}  // namespace dfs::fs
