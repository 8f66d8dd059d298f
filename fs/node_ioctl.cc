// fs/node_ioctl.cc: ioctl on files and directories of the mount.
//
// The kernel hands the file system only what the VFS does not answer itself. Of those, the inode
// flags (lsattr/chattr: FS_IOC_GETFLAGS/SETFLAGS, and FS_IOC_FSGETXATTR/FSSETXATTR) reach the
// daemon through the kernel's fileattr operations (after its own checks: the caller owns the file
// or has CAP_FOWNER, and CAP_LINUX_IMMUTABLE to change the immutable or append-only flag) and are
// passed to the lower object as the caller; a change tells the Gate (an immutable or append-only
// file is no longer what was verified to be writable). Every other command (TCGETS, the isatty
// probe that python3 and stdio send for each opened file, included) gets ENOTTY at once, on the
// session thread, as from ext4. FIEMAP, FIBMAP and the fallocate modes the kernel's FUSE does
// not forward never get here (docs/mount.md, "Limits").
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "fs/creds.h"
#include "fs/passthrough.h"

namespace dfs::fs {

namespace {

// The inode-flag commands and the size of their argument.
size_t FlagArgSize(unsigned int cmd) {
  switch (cmd) {
    case FS_IOC_GETFLAGS:
    case FS_IOC_SETFLAGS:
    case FS_IOC32_GETFLAGS:
    case FS_IOC32_SETFLAGS:
      return sizeof(int);  // the kernel passes an int whatever the command's encoded size
    case FS_IOC_FSGETXATTR:
    case FS_IOC_FSSETXATTR:
      return sizeof(struct fsxattr);
    default:
      return 0;
  }
}

bool Sets(unsigned int cmd) {
  return cmd == FS_IOC_SETFLAGS || cmd == FS_IOC32_SETFLAGS || cmd == FS_IOC_FSSETXATTR;
}

void ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void* arg, fuse_file_info* fi,
           unsigned flags, const void* in_buf, size_t in_bufsz, size_t out_bufsz) {
  (void)arg;
  (void)fi;
  size_t size = FlagArgSize(cmd);
  if (size == 0 || (flags & FUSE_IOCTL_COMPAT) != 0) {
    fuse_reply_err(req, ENOTTY);
    return;
  }
  if ((Sets(cmd) ? in_bufsz : out_bufsz) < size) {
    fuse_reply_err(req, EINVAL);
    return;
  }
  Passthrough& fs = Passthrough::From(req);
  Inode& inode = fs.inode(ino);
  if (!S_ISREG(inode.type) && !S_ISDIR(inode.type)) {
    fuse_reply_err(req, ENOTTY);
    return;
  }
  // A descriptor of exactly this inode (never a path): opening a regular file or a directory
  // read-only has no side effect, and the flag commands work on any open file.
  int fd = fs.Reopen(inode, O_RDONLY | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    fuse_reply_err(req, -fd);
    return;
  }
  Fd lower(fd);
  alignas(8) unsigned char buf[sizeof(struct fsxattr)] = {};
  if (Sets(cmd)) std::memcpy(buf, in_buf, size);
  int err = 0;
  {
    // Changes are made as the caller (ownership checks by the lower file system too).
    std::optional<ScopedCreds> creds;
    if (Sets(cmd)) {
      creds.emplace(req);
      err = creds->error();
    }
    if (err == 0 && ::ioctl(lower.get(), cmd, buf) != 0) err = errno;
  }
  if (err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  if (Sets(cmd)) {
    fs.Changed(inode);
    fuse_reply_ioctl(req, 0, nullptr, 0);
  } else {
    fuse_reply_ioctl(req, 0, buf, size);
  }
}

}  // namespace

void RegisterIoctlOps(fuse_lowlevel_ops* ops) { ops->ioctl = ioctl; }

}  // namespace dfs::fs
