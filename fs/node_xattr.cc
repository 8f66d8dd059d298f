// fs/node_xattr.cc: extended attributes: getxattr, setxattr, listxattr, removexattr.
//
// Regular files and directories are reached through their /proc/self/fd magic link, which resolves
// to the very inode held (no path walk). Symlinks cannot be reached that way without following
// them; for them the *xattrat() system calls (Linux 6.13) act on the O_PATH descriptor itself, and
// older kernels get EPERM, as libfuse's passthrough examples answer.
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <memory>

#include "fs/passthrough.h"

namespace dfs::fs {

namespace {

#ifndef SYS_setxattrat
#define SYS_setxattrat 463
#define SYS_getxattrat 464
#define SYS_listxattrat 465
#define SYS_removexattrat 466
#endif

struct XattrArgs {  // struct xattr_args (uapi/linux/xattr.h)
  uint64_t value;
  uint32_t size;
  uint32_t flags;
};

constexpr unsigned kAtFlags = AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW;

struct ProcPath {
  char buf[32];
  explicit ProcPath(const Inode& i) { snprintf(buf, sizeof buf, "/proc/self/fd/%d", i.fd.get()); }
};

ssize_t Get(const Inode& i, const char* name, void* value, size_t size) {
  if (i.is_symlink()) {
    XattrArgs a{reinterpret_cast<uint64_t>(value), static_cast<uint32_t>(size), 0};
    long r = syscall(SYS_getxattrat, i.fd.get(), "", kAtFlags, name, &a, sizeof a);
    if (r < 0 && errno == ENOSYS) errno = EPERM;
    return r;
  }
  return getxattr(ProcPath(i).buf, name, value, size);
}

ssize_t List(const Inode& i, char* list, size_t size) {
  if (i.is_symlink()) {
    long r = syscall(SYS_listxattrat, i.fd.get(), "", kAtFlags, list, size);
    if (r < 0 && errno == ENOSYS) errno = EPERM;
    return r;
  }
  return listxattr(ProcPath(i).buf, list, size);
}

void getxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  Inode& inode = Passthrough::From(req).inode(ino);
  if (size == 0) {
    ssize_t n = Get(inode, name, nullptr, 0);
    if (n < 0) {
      fuse_reply_err(req, errno);
    } else {
      fuse_reply_xattr(req, static_cast<size_t>(n));
    }
    return;
  }
  auto buf = std::make_unique<char[]>(size);
  ssize_t n = Get(inode, name, buf.get(), size);
  if (n < 0) {
    fuse_reply_err(req, errno);
  } else {
    fuse_reply_buf(req, buf.get(), static_cast<size_t>(n));
  }
}

void listxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  Inode& inode = Passthrough::From(req).inode(ino);
  if (size == 0) {
    ssize_t n = List(inode, nullptr, 0);
    if (n < 0) {
      fuse_reply_err(req, errno);
    } else {
      fuse_reply_xattr(req, static_cast<size_t>(n));
    }
    return;
  }
  auto buf = std::make_unique<char[]>(size);
  ssize_t n = List(inode, buf.get(), size);
  if (n < 0) {
    fuse_reply_err(req, errno);
  } else {
    fuse_reply_buf(req, buf.get(), static_cast<size_t>(n));
  }
}

void setxattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, size_t size,
              int flags) {
  Passthrough& fs = Passthrough::From(req);
  Inode& inode = fs.inode(ino);
  int rc;
  if (inode.is_symlink()) {
    XattrArgs a{reinterpret_cast<uint64_t>(value), static_cast<uint32_t>(size),
                static_cast<uint32_t>(flags)};
    rc =
        static_cast<int>(syscall(SYS_setxattrat, inode.fd.get(), "", kAtFlags, name, &a, sizeof a));
    if (rc < 0 && errno == ENOSYS) errno = EPERM;
  } else {
    rc = ::setxattr(ProcPath(inode).buf, name, value, size, flags);
  }
  int err = rc == 0 ? 0 : errno;
  if (err == 0) fs.Changed(inode);  // e.g. security.ima / security.capability
  fuse_reply_err(req, err);
}

void removexattr(fuse_req_t req, fuse_ino_t ino, const char* name) {
  Passthrough& fs = Passthrough::From(req);
  Inode& inode = fs.inode(ino);
  int rc;
  if (inode.is_symlink()) {
    rc = static_cast<int>(syscall(SYS_removexattrat, inode.fd.get(), "", kAtFlags, name));
    if (rc < 0 && errno == ENOSYS) errno = EPERM;
  } else {
    rc = ::removexattr(ProcPath(inode).buf, name);
  }
  int err = rc == 0 ? 0 : errno;
  if (err == 0) fs.Changed(inode);
  fuse_reply_err(req, err);
}

}  // namespace

void RegisterXattrOps(fuse_lowlevel_ops* ops) {
  ops->getxattr = getxattr;
  ops->listxattr = listxattr;
  ops->setxattr = setxattr;
  ops->removexattr = removexattr;
}

}  // namespace dfs::fs
