// fs/node_xattr.cc: extended attributes: getxattr, setxattr, listxattr, removexattr. Each acts
// on the lower inode the inode table holds, through its magic link (fs/lower_xattr.h): native
// rules then apply as they are (ENODATA for a missing name, EPERM for user.* on a symlink).
#include <cerrno>
#include <cstring>
#include <memory>

#include "fs/passthrough.h"

namespace dfs::fs {

namespace {

// Each returns -1 with errno set on failure (also when the inode's descriptor cannot be leased).
ssize_t Get(Passthrough& fs, const Inode& i, const char* name, void* value, size_t size) {
  PathFd fd = fs.Lower(i);
  if (!fd) {
    errno = fd.error();
    return -1;
  }
  ssize_t n = fs.xattr().Get(fd.get(), name, value, size);
  // With POSIX ACLs negotiated the kernel asks for an inode's ACL in every permission check that
  // reaches the group class, and takes any error but "no such attribute" as the check's result.
  // A lower file system without ACLs (ramfs, vfat, ...) has none: say so, as natively.
  if (n < 0 && errno == EOPNOTSUPP && strncmp(name, "system.posix_acl_", 17) == 0) errno = ENODATA;
  // No module of this kernel reads the attribute (neither SELinux nor EVM: fs/host_lsm.h). Most
  // programs that ask take "not supported" as "no label", as they take "no such attribute", and
  // coreutils ls (up to 9.5) then stops asking the other entries of the file system, a round trip
  // each; docs/mount.md, "SELinux labels", lists those that differ. A label the file has is
  // returned as it is.
  if (n < 0 && errno == ENODATA && fs.config().absent_selinux_unsupported &&
      strcmp(name, "security.selinux") == 0) {
    errno = EOPNOTSUPP;
  }
  return n;
}

ssize_t List(Passthrough& fs, const Inode& i, char* list, size_t size) {
  PathFd fd = fs.Lower(i);
  if (!fd) {
    errno = fd.error();
    return -1;
  }
  return fs.xattr().List(fd.get(), list, size);
}

void getxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  Passthrough& fs = Passthrough::From(req);
  Inode& inode = fs.inode(ino);
  if (size == 0) {
    ssize_t n = Get(fs, inode, name, nullptr, 0);
    if (n < 0) {
      fuse_reply_err(req, errno);
    } else {
      fuse_reply_xattr(req, static_cast<size_t>(n));
    }
    return;
  }
  auto buf = std::make_unique_for_overwrite<char[]>(size);
  ssize_t n = Get(fs, inode, name, buf.get(), size);
  if (n < 0) {
    fuse_reply_err(req, errno);
  } else {
    fuse_reply_buf(req, buf.get(), static_cast<size_t>(n));
  }
}

void listxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  Passthrough& fs = Passthrough::From(req);
  Inode& inode = fs.inode(ino);
  if (size == 0) {
    ssize_t n = List(fs, inode, nullptr, 0);
    if (n < 0) {
      fuse_reply_err(req, errno);
    } else {
      fuse_reply_xattr(req, static_cast<size_t>(n));
    }
    return;
  }
  auto buf = std::make_unique_for_overwrite<char[]>(size);
  ssize_t n = List(fs, inode, buf.get(), size);
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
  PathFd fd = fs.Lower(inode);
  if (!fd) {
    fuse_reply_err(req, fd.error());
    return;
  }
  int rc = fs.xattr().Set(fd.get(), name, value, size, flags);
  int err = rc == 0 ? 0 : errno;
  if (err == 0) fs.Changed(inode);  // e.g. security.ima / security.capability
  fuse_reply_err(req, err);
}

void removexattr(fuse_req_t req, fuse_ino_t ino, const char* name) {
  Passthrough& fs = Passthrough::From(req);
  Inode& inode = fs.inode(ino);
  PathFd fd = fs.Lower(inode);
  if (!fd) {
    fuse_reply_err(req, fd.error());
    return;
  }
  int rc = fs.xattr().Remove(fd.get(), name);
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
