// fs/node_dir_ops.cc: the namespace: mknod, mkdir, symlink, link, unlink, rmdir, rename, and
// directory handles (opendir, readdir, readdirplus, releasedir, fsyncdir).
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>

#include "fs/creds.h"
#include "fs/passthrough.h"

namespace dfs::fs {

namespace {

bool BadName(const char* name) {
  return strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strchr(name, '/') != nullptr;
}

// Creates `name` in `parent` as the caller (type from mode; link target for symlinks), then looks
// it up. Returns 0 or an errno.
int do_make(fuse_req_t req, Passthrough& fs, Inode& parent, const char* name, mode_t mode,
            dev_t rdev, const char* link, fuse_entry_param* e) {
  if (BadName(name)) return EINVAL;
  PathFd pfd = fs.Lower(parent);  // before the switch: reopening needs the daemon's capabilities
  if (!pfd) return pfd.error();
  if (link == nullptr && !S_ISDIR(mode)) {
    // A FIFO, socket or device where the policy appraises reads is refused before it exists.
    struct stat st {};
    st.st_mode = mode;
    st.st_rdev = rdev;
    st.st_uid = fuse_req_ctx(req)->uid;
    st.st_gid = fuse_req_ctx(req)->gid;
    if (int err = fs.CheckNode(req, parent, name, st); err != 0) return err;
  }
  {
    ScopedCreds creds(req);
    if (creds.error() != 0) return creds.error();
    ScopedUmask mask(req);
    if (mask.error() != 0) return mask.error();
    int rc;
    if (link != nullptr) {
      rc = symlinkat(link, pfd.get(), name);
    } else if (S_ISDIR(mode)) {
      rc = mkdirat(pfd.get(), name, mode & ~S_IFMT);
    } else {
      rc = mknodat(pfd.get(), name, mode, rdev);
    }
    if (rc != 0) return errno;
  }
  return fs.DoLookup(req, parent, name, e);
}

void mknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev) {
  Passthrough& fs = Passthrough::From(req);
  fuse_entry_param e;
  ReplyEntry(req, do_make(req, fs, fs.inode(parent), name, mode, rdev, nullptr, &e), e);
}

void mkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  Passthrough& fs = Passthrough::From(req);
  fuse_entry_param e;
  ReplyEntry(req, do_make(req, fs, fs.inode(parent), name, S_IFDIR | mode, 0, nullptr, &e), e);
}

void symlink(fuse_req_t req, const char* link, fuse_ino_t parent, const char* name) {
  Passthrough& fs = Passthrough::From(req);
  fuse_entry_param e;
  ReplyEntry(req, do_make(req, fs, fs.inode(parent), name, S_IFLNK, 0, link, &e), e);
}

int do_link(fuse_req_t req, Passthrough& fs, Inode& inode, Inode& newparent, const char* newname,
            fuse_entry_param* e) {
  if (BadName(newname)) return EINVAL;
  // AT_EMPTY_PATH links the O_PATH descriptor's inode itself (needs CAP_DAC_READ_SEARCH, which a
  // root daemon has); a non-root daemon goes through the /proc magic link.
  PathFd ifd = fs.Lower(inode);
  if (!ifd) return ifd.error();
  if (fs.gate() != nullptr) {
    struct stat st;
    if (fstatat(ifd.get(), "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) return errno;
    if (int err = fs.CheckNode(req, newparent, newname, st); err != 0) return err;
  }
  PathFd pfd = fs.Lower(newparent);
  if (!pfd) return pfd.error();
  int rc = linkat(ifd.get(), "", pfd.get(), newname, AT_EMPTY_PATH);
  if (rc != 0 && (errno == ENOENT || errno == EPERM) && !CredsActive()) {
    char path[32];
    snprintf(path, sizeof path, "/proc/self/fd/%d", ifd.get());
    rc = linkat(AT_FDCWD, path, pfd.get(), newname, AT_SYMLINK_FOLLOW);
  }
  if (rc != 0) return errno;
  fs.Changed(inode);  // its ctime and link count changed
  return fs.DoLookup(req, newparent, newname, e);
}

void link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* newname) {
  Passthrough& fs = Passthrough::From(req);
  fuse_entry_param e;
  ReplyEntry(req, do_link(req, fs, fs.inode(ino), fs.inode(newparent), newname, &e), e);
}

// Key of `name` in `dir`, if it exists (for Gate notifications and path tracking).
bool KeyOf(const PathFd& dir, const char* name, InodeKey* key) {
  struct stat st;
  if (fstatat(dir.get(), name, &st, AT_SYMLINK_NOFOLLOW) != 0) return false;
  *key = {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
  return true;
}

int do_remove(Passthrough& fs, Inode& parent, const char* name, bool dir) {
  if (BadName(name)) return EINVAL;
  PathFd pfd = fs.Lower(parent);
  if (!pfd) return pfd.error();
  InodeKey key;
  bool known = KeyOf(pfd, name, &key);
  if (unlinkat(pfd.get(), name, dir ? AT_REMOVEDIR : 0) != 0) return errno;
  if (known) {
    fs.inodes().Unlinked(key, &parent, name);
    if (!dir) fs.ChangedKey(key);
  }
  return 0;
}

void unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Passthrough& fs = Passthrough::From(req);
  fuse_reply_err(req, do_remove(fs, fs.inode(parent), name, false));
}

void rmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Passthrough& fs = Passthrough::From(req);
  fuse_reply_err(req, do_remove(fs, fs.inode(parent), name, true));
}

int do_rename(fuse_req_t req, Passthrough& fs, Inode& parent, const char* name, Inode& newparent,
              const char* newname, unsigned flags) {
  if (BadName(name) || BadName(newname)) return EINVAL;
  PathFd pfd = fs.Lower(parent);
  if (!pfd) return pfd.error();
  PathFd npfd = fs.Lower(newparent);
  if (!npfd) return npfd.error();
  InodeKey src, dst;
  bool have_src = KeyOf(pfd, name, &src);
  bool have_dst = KeyOf(npfd, newname, &dst);
  if (fs.gate() != nullptr) {
    // A FIFO, socket or device must not be moved to a name where the policy appraises reads (an
    // exchange moves the target to the source's name too).
    struct stat st;
    if (have_src && fstatat(pfd.get(), name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
      if (int err = fs.CheckNode(req, newparent, newname, st); err != 0) return err;
    }
    if ((flags & RENAME_EXCHANGE) && have_dst &&
        fstatat(npfd.get(), newname, &st, AT_SYMLINK_NOFOLLOW) == 0) {
      if (int err = fs.CheckNode(req, parent, name, st); err != 0) return err;
    }
  }
  {
    // RENAME_WHITEOUT creates a whiteout device, which must belong to the caller.
    std::optional<ScopedCreds> creds;
    if (flags & RENAME_WHITEOUT) {
      creds.emplace(req);
      if (creds->error() != 0) return creds->error();
    }
    if (renameat2(pfd.get(), name, npfd.get(), newname, flags) != 0) return errno;
  }
  // Renaming a name onto another name of the same inode changes nothing.
  if (have_src && have_dst && src == dst) return 0;
  if (have_src) fs.inodes().Moved(src, &parent, name, &newparent, newname);
  if (have_dst) {
    if (flags & RENAME_EXCHANGE) {
      fs.inodes().Moved(dst, &newparent, newname, &parent, name);
    } else {
      fs.inodes().Unlinked(dst, &newparent, newname);
      fs.ChangedKey(dst);  // replaced: its link count dropped, and its path now names other bytes
    }
  }
  return 0;
}

void rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
            const char* newname, unsigned int flags) {
  Passthrough& fs = Passthrough::From(req);
  fuse_reply_err(req,
                 do_rename(req, fs, fs.inode(parent), name, fs.inode(newparent), newname, flags));
}

// An open directory (fuse_file_info::fh for directories).
struct DirHandle {
  DIR* dp = nullptr;
  off_t offset = 0;                // the position dp is at
  struct dirent* entry = nullptr;  // read but not yet returned
  ~DirHandle() {
    if (dp != nullptr) closedir(dp);
  }
};

DirHandle* Dir(fuse_file_info* fi) { return reinterpret_cast<DirHandle*>(fi->fh); }

bool SameTimes(bool valid, off_t size, const struct timespec& mtime, const struct timespec& ctime,
               const struct stat& st) {
  return valid && size == st.st_size && mtime.tv_sec == st.st_mtim.tv_sec &&
         mtime.tv_nsec == st.st_mtim.tv_nsec && ctime.tv_sec == st.st_ctim.tv_sec &&
         ctime.tv_nsec == st.st_ctim.tv_nsec;
}

// Whether the kernel's cached listing of directory `i` (i.mu held) was made when the lower
// directory had the size and times of `st`. For a directory the inode's stamp describes its
// listing in the kernel's cache (for a file, its cached pages).
bool SameDirStamp(const Inode& i, const struct stat& st) {
  return SameTimes(i.stamp_valid, i.stamp_size, i.stamp_mtime, i.stamp_ctime, st);
}

// Opens the lower directory of `dir` for reading, as a new handle in *out. 0 or an errno (then
// nothing is left open). `what` names the open in the log of descriptor shortages.
int OpenLowerDir(Passthrough& fs, Inode& dir, const char* what, std::unique_ptr<DirHandle>* out) {
  PathFd pfd = fs.Lower(dir);
  if (!pfd) return pfd.error();
  int fd = fs.inodes().OpenShedding(
      [&] { return openat(pfd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC); }, what);
  if (fd < 0) return errno;
  auto d = std::make_unique<DirHandle>();
  d->dp = fdopendir(fd);
  if (d->dp == nullptr) {
    int err = errno;
    close(fd);
    return err;
  }
  *out = std::move(d);
  return 0;
}

// The size, mtime and ctime of the directory `fd` (an O_PATH descriptor) into *st, revalidated
// where the file system caches them (NFS, CIFS, FUSE: AT_STATX_FORCE_SYNC; an open would have
// revalidated them too). 0 or an errno.
int StatDirSync(int fd, struct stat* st) {
  struct statx sx {};
  if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_FORCE_SYNC, STATX_SIZE | STATX_MTIME | STATX_CTIME,
            &sx) != 0) {
    return errno;
  }
  st->st_size = static_cast<off_t>(sx.stx_size);
  st->st_mtim = {sx.stx_mtime.tv_sec, sx.stx_mtime.tv_nsec};
  st->st_ctim = {sx.stx_ctime.tv_sec, sx.stx_ctime.tv_nsec};
  return 0;
}

// The lower file system's type of directory `dir` (statfs f_type), looked up once per node from
// its O_PATH descriptor `fd`; 0 if it cannot be read (asked again next time).
uint64_t LowerFsType(Inode& dir, int fd) {
  uint64_t type = dir.lower_fs_type.load(std::memory_order_relaxed);
  if (type == 0) {
    struct statfs sf {};
    if (fstatfs(fd, &sf) != 0) return 0;
    type = static_cast<unsigned long>(sf.f_type);
    dir.lower_fs_type.store(type, std::memory_order_relaxed);
  }
  return type;
}

// Whether a directory offset (d_off) of a file system of this type names the same place in a new
// open of the directory: hash or key positions (ext2/3/4, xfs, btrfs, f2fs). Elsewhere (overlayfs
// merged directories, NFS and CIFS cookies, FUSE, tmpfs before Linux 6.6) it may count entries of
// one open, so a listing is read through one handle.
bool StableDirOffsets(uint64_t fs_type) {
  switch (fs_type) {
    case EXT4_SUPER_MAGIC:
    case XFS_SUPER_MAGIC:
    case BTRFS_SUPER_MAGIC:
    case F2FS_SUPER_MAGIC:
      return true;
    default:
      return false;
  }
}

void opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Passthrough& fs = Passthrough::From(req);
  if (fs.no_opendir()) {
    // watch=on: the kernel opens directories itself from now on (no OPENDIR or RELEASEDIR) and
    // keeps their listings until the lower watch reports a change (Passthrough::StartWatch).
    // This open, too, goes on without a handle: readdir and fsyncdir open the directory then.
    fuse_reply_err(req, ENOSYS);
    return;
  }
  Inode& inode = fs.inode(ino);
  // The lower directory's size and times, from the node's O_PATH descriptor: if they are those of
  // the listing the kernel cached, the kernel lists from its cache and this open needs no lower
  // handle (no open, fdopendir or close). A READDIR that still comes (the kernel's cached pages
  // were reclaimed, or the listing was never read to its end) opens the directory for that
  // request, as without OPENDIR; so only where an offset names the same place in a new open.
  struct stat st {};
  bool keep = false;
  {
    PathFd pfd = fs.Lower(inode);
    if (!pfd) {
      fuse_reply_err(req, pfd.error());
      return;
    }
    if (int err = StatDirSync(pfd.get(), &st); err != 0) {
      fuse_reply_err(req, err);
      return;
    }
    {
      std::lock_guard lock(inode.mu);
      keep = SameDirStamp(inode, st);
    }
    if (keep && !StableDirOffsets(LowerFsType(inode, pfd.get()))) keep = false;
  }
  // Otherwise a handle, stamped with the times taken above: a change between them and the open
  // is listed now and refreshed again at the next opendir (the stamp is older than the listing).
  std::unique_ptr<DirHandle> d;
  if (!keep) {
    if (int err = OpenLowerDir(fs, inode, "opendir", &d); err != 0) {
      fuse_reply_err(req, err);
      return;
    }
  }
  // The kernel caches the listing (cache_readdir) and keeps it across opens (keep_cache) only
  // while the lower directory's size, mtime and ctime are those seen when it was cached: a change
  // beneath the mount is listed at the next opendir. (A change through the mount drops the
  // kernel's cache itself.) If they changed, the kernel also fetches the attributes again, which
  // resets its cached listing too (it compares the directory's mtime at offset 0).
  bool inval_attr = false;
  fi->cache_readdir = 1;
  {
    std::lock_guard lock(inode.mu);
    // Without a handle the stamp was the same a moment ago; a change since is seen at the next
    // opendir, as a change just after this one would be.
    fi->keep_cache = (keep || SameDirStamp(inode, st)) ? 1 : 0;
    if (!fi->keep_cache) {
      inode.stamp_valid = true;
      inode.stamp_size = st.st_size;
      inode.stamp_mtime = st.st_mtim;
      inode.stamp_ctime = st.st_ctim;
    }
    inval_attr =
        !SameTimes(inode.attr_valid, inode.attr_size, inode.attr_mtime, inode.attr_ctime, st);
    if (inval_attr) {  // the kernel's next GETATTR will see these
      inode.attr_valid = true;
      inode.attr_size = st.st_size;
      inode.attr_mtime = st.st_mtim;
      inode.attr_ctime = st.st_ctim;
    }
  }
  if (inval_attr) fuse_lowlevel_notify_inval_inode(fs.session(), ino, -1, 0);
  if (d == nullptr) {
    fi->fh = 0;
    fuse_reply_open(req, fi);
    return;
  }
  PublishHandle(fi, std::move(d));
  if (fuse_reply_open(req, fi) != 0) AdoptHandle<DirHandle>(fi);  // not delivered: freed here
}

// Whether a read of directory `dir` at offset kEndOffset lists nothing, whatever the directory
// holds now: on ext4 (and ext2/ext3) that offset is where every listing read to its end stops.
// A hashed directory gives it as the end-of-listing position, which no name's hash position can
// take (ext4 moves a name off that hash); a linear directory's offsets are byte positions, so it
// lies past the end. The daemon reads with 64-bit offsets.
constexpr off_t kEndOffset = std::numeric_limits<off_t>::max();
bool EndOffsetIsFinal(Passthrough& fs, Inode& dir) {
  uint64_t type = dir.lower_fs_type.load(std::memory_order_relaxed);
  if (type == 0) {
    PathFd pfd = fs.Lower(dir);
    if (!pfd) return false;
    type = LowerFsType(dir, pfd.get());
  }
  return type == EXT4_SUPER_MAGIC;
}

void ServeReaddir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info* fi,
                  bool plus) {
  Passthrough& fs = Passthrough::From(req);
  Inode& dir = fs.inode(ino);
  DirHandle* d = Dir(fi);
  // The read that follows the last entry of a listing (the kernel asks again until a read lists
  // nothing): without a handle it would open the directory, seek and read only to learn that.
  if (d == nullptr && offset == kEndOffset && EndOffsetIsFinal(fs, dir)) {
    fuse_reply_buf(req, nullptr, 0);
    return;
  }
  // No handle (watch=on: no OPENDIR; or an opendir that found the kernel's cached listing
  // current): the directory is opened for this read and positioned at `offset` (a d_off the
  // lower file system gave in an earlier read).
  std::unique_ptr<DirHandle> unopened;
  if (d == nullptr) {
    if (int err = OpenLowerDir(fs, dir, "readdir", &unopened); err != 0) {
      fuse_reply_err(req, err);
      return;
    }
    d = unopened.get();
    if (offset != 0) d->offset = -1;  // seekdir below
  }
  auto buf = std::make_unique_for_overwrite<char[]>(size);
  size_t used = 0;
  int err = 0;
  if (offset != d->offset) {
    seekdir(d->dp, offset);
    d->entry = nullptr;
    d->offset = offset;
  }
  for (;;) {
    if (d->entry == nullptr) {
      errno = 0;
      d->entry = ::readdir(d->dp);
      if (d->entry == nullptr) {
        err = errno;  // 0 at the end of the directory
        break;
      }
    }
    const char* name = d->entry->d_name;
    off_t next = d->entry->d_off;
    size_t entsize;
    if (plus) {
      fuse_entry_param e{};
      const bool dot = strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
      // Regular files are listed without attributes or a node id (the kernel makes no entry;
      // a use of the name asks LOOKUP): a walk such as `find` never uses them, and looking each
      // one up here cost the daemon more than the LOOKUPs of those that are used (measured in
      // docs/benchmarks.md). Directories, whose walk needs them, keep their entries.
      const bool bare = !dot && d->entry->d_type == DT_REG;
      bool no_ref = dot || bare;  // the entry holds no lookup reference
      if (bare) {
        e.attr.st_ino = d->entry->d_ino;
        e.attr.st_mode = S_IFREG;
      } else if (dot) {
        e.attr.st_ino = d->entry->d_ino;
        e.attr.st_mode = static_cast<mode_t>(d->entry->d_type) << 12;
      } else {
        int lerr = fs.DoLookup(req, dir, name, &e);
        if (lerr == ENOENT) {  // removed beneath us since readdir saw it
          d->entry = nullptr;
          d->offset = next;
          continue;
        }
        if (lerr == EACCES) {
          // A node refused by name (Passthrough::CheckNode): listed without attributes or a
          // node id, so the kernel makes no entry for it and a use of the name asks LOOKUP.
          e = fuse_entry_param{};
          e.attr.st_ino = d->entry->d_ino;
          e.attr.st_mode = static_cast<mode_t>(d->entry->d_type) << 12;
          no_ref = true;
        } else if (lerr != 0) {
          err = lerr;
          break;
        }
      }
      entsize = fuse_add_direntry_plus(req, buf.get() + used, size - used, name, &e, next);
      if (entsize > size - used) {
        if (!no_ref) fs.inodes().Forget(&fs.inode(e.ino), 1);
        break;
      }
    } else {
      struct stat st {};
      st.st_ino = d->entry->d_ino;
      st.st_mode = static_cast<mode_t>(d->entry->d_type) << 12;
      entsize = fuse_add_direntry(req, buf.get() + used, size - used, name, &st, next);
      if (entsize > size - used) break;
    }
    used += entsize;
    d->entry = nullptr;
    d->offset = next;
  }
  // An error after some entries is reported by returning the entries; the next call repeats it.
  if (err != 0 && used == 0) {
    fuse_reply_err(req, err);
  } else {
    fuse_reply_buf(req, buf.get(), used);
  }
}

// Directory reads may wait for the disk: on a worker, unless no other request is waiting, when
// the hand-off would cost more than the read (like small file reads; a listing of the lower tree is
// nearly always in its page cache by then). A cold `find / -xdev` over the real rootfs with
// threads=4: 1.6-2.2 s with every listing on a worker, 0.7-1.1 s with threads=0 (all inline).
// The kernel serialises reads of one open directory and keeps it open meanwhile, so the DirHandle
// stays valid and unshared.
void ServeOrOffloadReaddir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                           fuse_file_info* fi, bool plus) {
  Passthrough& fs = Passthrough::From(req);
  if (!fs.RequestsPending()) {
    ServeReaddir(req, ino, size, off, fi, plus);
    return;
  }
  fs.Offload(req, [req, ino, size, off, f = *fi, plus]() mutable {
    ServeReaddir(req, ino, size, off, &f, plus);
  });
}

void readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  ServeOrOffloadReaddir(req, ino, size, off, fi, false);
}

void readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  ServeOrOffloadReaddir(req, ino, size, off, fi, true);
}

void releasedir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  (void)ino;
  AdoptHandle<DirHandle>(fi);  // closed here
  fuse_reply_err(req, 0);
}

void fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi) {
  Passthrough& fs = Passthrough::From(req);
  if (Dir(fi) == nullptr) {
    // No handle (watch=on, or a cached listing): the directory is opened for the sync.
    std::unique_ptr<DirHandle> d;
    if (int err = OpenLowerDir(fs, fs.inode(ino), "fsyncdir", &d); err != 0) {
      fuse_reply_err(req, err);
      return;
    }
    fs.Offload(req, [req, h = std::shared_ptr<DirHandle>(std::move(d)), datasync] {
      const int fd = dirfd(h->dp);
      int rc = datasync ? fdatasync(fd) : fsync(fd);
      fuse_reply_err(req, rc == 0 ? 0 : errno);
    });
    return;
  }
  int fd = dirfd(Dir(fi)->dp);
  fs.Offload(req, [req, fd, datasync] {
    int rc = datasync ? fdatasync(fd) : fsync(fd);
    fuse_reply_err(req, rc == 0 ? 0 : errno);
  });
}

}  // namespace

void RegisterDirOps(fuse_lowlevel_ops* ops) {
  ops->mknod = mknod;
  ops->mkdir = mkdir;
  ops->symlink = symlink;
  ops->link = link;
  ops->unlink = unlink;
  ops->rmdir = rmdir;
  ops->rename = rename;
  ops->opendir = opendir;
  ops->readdir = readdir;
  ops->readdirplus = readdirplus;
  ops->releasedir = releasedir;
  ops->fsyncdir = fsyncdir;
}

}  // namespace dfs::fs
