#include "fs/creds.h"

#include <grp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace dfs::fs {

namespace {

bool g_active = false;
std::vector<gid_t> g_own_groups;  // written once in InitCreds, then read-only

constexpr int kMaxGroups = 256;

int SetGroups(size_t n, const gid_t* list) {
  return static_cast<int>(syscall(SYS_setgroups, n, list));
}

}  // namespace

void InitCreds() {
  g_active = geteuid() == 0;
  int n = getgroups(0, nullptr);
  if (n > 0) {
    g_own_groups.resize(n);
    n = getgroups(n, g_own_groups.data());
    g_own_groups.resize(n > 0 ? n : 0);
  }
}

bool CredsActive() { return g_active; }

ScopedCreds::ScopedCreds(fuse_req_t req) {
  if (!g_active) return;
  const fuse_ctx* ctx = fuse_req_ctx(req);
  if (ctx->uid == 0 && ctx->gid == 0) return;  // root acts as the daemon does
  gid_t groups[kMaxGroups];
  int n = fuse_req_getgroups(req, kMaxGroups, groups);
  if (n < 0) {
    // The caller is gone or /proc is unavailable: act with no supplementary groups, which can
    // only deny more, never grant more.
    n = 0;
  } else if (n > kMaxGroups) {
    n = kMaxGroups;
  }
  switched_ = true;
  if (SetGroups(n, groups) != 0) {
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
  syscall(SYS_setfsuid, 0);
  syscall(SYS_setfsgid, 0);
  SetGroups(g_own_groups.size(), g_own_groups.data());
}

}  // namespace dfs::fs
