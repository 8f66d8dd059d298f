// fs/node_lookup.cc: names and attributes: lookup, forget, getattr, setattr, readlink, access,
// statfs.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>

#include "fs/creds.h"
#include "fs/passthrough.h"

namespace dfs::fs {

namespace {

void lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Passthrough& fs = Passthrough::From(req);
  fuse_entry_param e;
  int err = fs.DoLookup(req, fs.inode(parent), name, &e);
  if (err == ENOENT) {
    // A negative entry. Creations through the mount replace it at once; a short lifetime bounds
    // how long a file created beneath the mount stays invisible (with watch=on, usually less:
    // the watch expires the entry when the name is created).
    e = fuse_entry_param{};
    e.ino = 0;
    e.entry_timeout = fs.config().entry_timeout < 1.0 ? fs.config().entry_timeout : 1.0;
    fuse_reply_entry(req, &e);
    return;
  }
  ReplyEntry(req, err, e);
}

void forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  Passthrough& fs = Passthrough::From(req);
  fs.inodes().Forget(&fs.inode(ino), nlookup);
  fuse_reply_none(req);
}

void forget_multi(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  Passthrough& fs = Passthrough::From(req);
  for (size_t i = 0; i < count; ++i) {
    fs.inodes().Forget(&fs.inode(forgets[i].ino), forgets[i].nlookup);
  }
  fuse_reply_none(req);
}

int do_getattr(Passthrough& fs, Inode& inode, struct stat* st) {
  PathFd pfd = fs.Lower(inode);
  if (!pfd) return pfd.error();
  if (fstatat(pfd.get(), "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) return errno;
  return 0;
}

void getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  (void)fi;
  Passthrough& fs = Passthrough::From(req);
  struct stat st;
  Inode& inode = fs.inode(ino);
  int err = do_getattr(fs, inode, &st);
  if (err != 0) {
    fuse_reply_err(req, err);
  } else {
    inode.NoteAttr(st);
    fuse_reply_attr(req, &st, fs.config().attr_timeout);
  }
}

int do_setattr(Passthrough& fs, Inode& inode, const struct stat* attr, int valid,
               fuse_file_info* fi, struct stat* out) {
  PathFd pfd = fs.Lower(inode);
  if (!pfd) return pfd.error();
  int ifd = pfd.get();
  // The kernel passes a handle only for ftruncate, which needs a writer, and a writer's fd is set
  // before its handle is published (only a reader's is opened later: HandleFd).
  int ffd = fi != nullptr ? reinterpret_cast<FileHandle*>(fi->fh)->fd.get() : -1;
  if (valid & FUSE_SET_ATTR_MODE) {
    int rc;
    if (ffd >= 0) {
      rc = fchmod(ffd, attr->st_mode);
    } else {
      char path[32];
      snprintf(path, sizeof path, "/proc/self/fd/%d", ifd);
      rc = chmod(path, attr->st_mode);  // follows only the magic link to this very inode
    }
    if (rc != 0) return errno;
  }
  if (valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
    uid_t uid = (valid & FUSE_SET_ATTR_UID) ? attr->st_uid : static_cast<uid_t>(-1);
    gid_t gid = (valid & FUSE_SET_ATTR_GID) ? attr->st_gid : static_cast<gid_t>(-1);
    if (fchownat(ifd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) return errno;
  }
  if (valid & FUSE_SET_ATTR_SIZE) {
    int rc;
    if (ffd >= 0) {
      rc = ftruncate(ffd, attr->st_size);
    } else {
      int wfd = fs.Reopen(inode, O_WRONLY);
      if (wfd < 0) return -wfd;
      rc = ftruncate(wfd, attr->st_size);
      int saved = errno;
      close(wfd);
      errno = saved;
    }
    if (rc != 0) return errno;
    fs.Changed(inode);
  }
  if (valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)) {
    struct timespec tv[2];
    tv[0].tv_sec = 0;
    tv[1].tv_sec = 0;
    tv[0].tv_nsec = UTIME_OMIT;
    tv[1].tv_nsec = UTIME_OMIT;
    if (valid & FUSE_SET_ATTR_ATIME_NOW) {
      tv[0].tv_nsec = UTIME_NOW;
    } else if (valid & FUSE_SET_ATTR_ATIME) {
      tv[0] = attr->st_atim;
    }
    if (valid & FUSE_SET_ATTR_MTIME_NOW) {
      tv[1].tv_nsec = UTIME_NOW;
    } else if (valid & FUSE_SET_ATTR_MTIME) {
      tv[1] = attr->st_mtim;
    }
    int rc =
        ffd >= 0 ? futimens(ffd, tv) : utimensat(ifd, "", tv, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
    if (rc != 0) return errno;
  }
  return do_getattr(fs, inode, out);
}

void setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int valid, fuse_file_info* fi) {
  Passthrough& fs = Passthrough::From(req);
  struct stat st;
  Inode& inode = fs.inode(ino);
  int err = do_setattr(fs, inode, attr, valid, fi, &st);
  if (err != 0) {
    fuse_reply_err(req, err);
  } else {
    inode.NoteAttr(st);
    fuse_reply_attr(req, &st, fs.config().attr_timeout);
  }
}

void readlink(fuse_req_t req, fuse_ino_t ino) {
  Passthrough& fs = Passthrough::From(req);
  char buf[PATH_MAX + 1];
  PathFd pfd = fs.Lower(fs.inode(ino));
  if (!pfd) {
    fuse_reply_err(req, pfd.error());
    return;
  }
  ssize_t n = readlinkat(pfd.get(), "", buf, sizeof buf);
  if (n < 0) {
    fuse_reply_err(req, errno);
  } else if (n >= static_cast<ssize_t>(sizeof buf)) {
    fuse_reply_err(req, ENAMETOOLONG);
  } else {
    buf[n] = '\0';
    fuse_reply_readlink(req, buf);
  }
}

void access(fuse_req_t req, fuse_ino_t ino, int mask) {
  // Only sent without default_permissions (a non-root daemon); checked as the caller.
  Passthrough& fs = Passthrough::From(req);
  PathFd pfd = fs.Lower(fs.inode(ino));
  if (!pfd) {
    fuse_reply_err(req, pfd.error());
    return;
  }
  char path[32];
  snprintf(path, sizeof path, "/proc/self/fd/%d", pfd.get());
  ScopedCreds creds(req);
  int err = creds.error();
  if (err == 0 && faccessat(AT_FDCWD, path, mask, AT_EACCESS) != 0) err = errno;
  fuse_reply_err(req, err);
}

void statfs(fuse_req_t req, fuse_ino_t ino) {
  Passthrough& fs = Passthrough::From(req);
  struct statvfs sv;
  PathFd pfd = fs.Lower(fs.inode(ino));
  if (!pfd) {
    fuse_reply_err(req, pfd.error());
    return;
  }
  if (fstatvfs(pfd.get(), &sv) != 0) {
    fuse_reply_err(req, errno);
  } else {
    fuse_reply_statfs(req, &sv);
  }
}

}  // namespace

void RegisterLookupOps(fuse_lowlevel_ops* ops) {
  ops->lookup = lookup;
  ops->forget = forget;
  ops->forget_multi = forget_multi;
  ops->getattr = getattr;
  ops->setattr = setattr;
  ops->readlink = readlink;
  ops->access = access;
  ops->statfs = statfs;
}

}  // namespace dfs::fs
