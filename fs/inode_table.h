// fs/inode_table.h: the daemon's view of the lower tree: one Inode per lower (dev, ino) that the
// kernel currently holds a lookup reference to.
//
// Each Inode owns an O_PATH|O_NOFOLLOW descriptor of the lower object, obtained by a one-component
// openat() relative to its parent's descriptor (never by a path string), so a symlink swapped into
// the lower tree can never lead outside it. The fuse_ino_t handed to the kernel is the Inode's
// address; it stays valid until the kernel forgets its last lookup reference.
//
// Paths: FUSE opens carry no name, so each Inode keeps the SET of names (parent key + name) it is
// known by: added on lookup, create, mknod, link and rename target; removed on unlink, rmdir and
// rename source. Paths() builds every known path from the mount root (each directory on the way by
// its one known name). A name changed beneath the mount may linger (a stale name only adds a path
// the Gate decides on); a name never seen through the mount is not known. More than kMaxNames names
// mark the inode "names unknown" for as long as it is held: the Gate must then decide as strictly
// as any path could.
//
// Thread safety: all methods may be called concurrently. Lock order: InodeTable::mu_ before
// Inode::mu; never call into the kernel (fuse_reply_*, fuse_lowlevel_notify_*) holding either.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/fd.h"

namespace dfs::fs {

struct InodeKey {
  uint64_t dev = 0;
  uint64_t ino = 0;
  bool operator==(const InodeKey&) const = default;
};

struct InodeKeyHash {
  size_t operator()(const InodeKey& k) const {
    return std::hash<uint64_t>()(k.ino * 0x9e3779b97f4a7c15ULL ^ k.dev);
  }
};

struct Inode {
  // Immutable after construction.
  Fd fd;            // O_PATH|O_NOFOLLOW descriptor of the lower object
  InodeKey key;     // lower (st_dev, st_ino)
  mode_t type = 0;  // S_IFMT bits

  // Guarded by InodeTable::mu_.
  uint64_t nlookup = 0;  // kernel lookup references
  struct Name {
    InodeKey parent;
    std::string name;
  };
  std::vector<Name> names;     // every known (parent, name); root: none
  bool names_unknown = false;  // more names than tracked were seen: the set is incomplete

  // Guarded by mu (taken after InodeTable::mu_ if both are needed).
  std::mutex mu;
  int writers = 0;  // open file handles with write access
  // Writer releases handed to a worker but not finished (the Gate's WriterClosed may be hashing):
  // an open with a Gate waits for them (closed_cv), so it is decided after the close it follows.
  int closing = 0;
  std::condition_variable closed_cv;
  bool stamp_valid = false;  // whether the stamp below describes what the page cache holds
  struct timespec stamp_mtime {};
  struct timespec stamp_ctime {};
  off_t stamp_size = 0;
  // What the kernel was last told about the file's size and times (entry and attr replies). An
  // open that finds the lower file different makes the kernel fetch its attributes again.
  bool attr_valid = false;
  struct timespec attr_mtime {};
  struct timespec attr_ctime {};
  off_t attr_size = 0;

  // Open file handles, and whether they use the kernel's passthrough (kernel_passthrough.h) or
  // the page cache: the kernel requires one I/O mode per inode while it has open files, so the
  // first open after none chooses it and the others follow.
  int open_files = 0;
  bool passthrough_io = false;
  // With passthrough_io: the backing id of the inode (the kernel allows one per inode),
  // registered by the first open and dropped by the last close.
  int32_t backing_id = -1;

  // Records attributes sent to the kernel (takes mu).
  void NoteAttr(const struct stat& st) {
    std::lock_guard lock(mu);
    attr_valid = true;
    attr_size = st.st_size;
    attr_mtime = st.st_mtim;
    attr_ctime = st.st_ctim;
  }

  bool is_dir() const { return S_ISDIR(type); }
  bool is_symlink() const { return S_ISLNK(type); }
};

class InodeTable {
 public:
  // Takes the root descriptor (O_PATH or O_RDONLY directory, opened before mounting).
  InodeTable(Fd root_fd, const struct stat& root_st);
  InodeTable(const InodeTable&) = delete;
  InodeTable& operator=(const InodeTable&) = delete;

  Inode& root() { return *root_; }

  // Registers one lookup reference for the object `fd` (O_PATH, ownership taken) with stat `st`,
  // seen as `name` in `parent`. Returns the existing Inode if (dev, ino) is known (fd is then
  // closed), a new one otherwise. Never fails.
  Inode* Intern(Fd fd, const struct stat& st, const Inode* parent, std::string_view name);

  // Adds `n` lookup references to an Inode the kernel already holds (e.g. readdirplus of a known
  // one). Drops `n` references; the Inode is destroyed (descriptor closed) when none remain. The
  // root is never destroyed.
  void Forget(Inode* inode, uint64_t n);

  // Returns the Inode for (dev, ino) if the kernel holds it; the pointer is valid only while the
  // caller holds a reference that prevents its forget (i.e. during a request naming it).
  Inode* Find(const InodeKey& key);
  // Calls fn(inode) under the table lock if (dev, ino) is held; returns whether it was. fn must not
  // block or call into the kernel; it may take inode->mu.
  bool WithInode(const InodeKey& key, const std::function<void(Inode*)>& fn);

  // At most this many names are kept per inode; one more marks it names_unknown.
  static constexpr size_t kMaxNames = 64;

  // Records that `key` is reachable as `name` in `parent` (link).
  void Linked(const InodeKey& key, const Inode* parent, std::string_view name);
  // Records that the object named `oldname` in `oldparent` is now `newparent`/`newname` (rename).
  void Moved(const InodeKey& key, const Inode* oldparent, std::string_view oldname,
             const Inode* newparent, std::string_view newname);
  // Records that `key` is no longer reachable as `name` in `parent` (unlink, rmdir, replaced by a
  // rename).
  void Unlinked(const InodeKey& key, const Inode* parent, std::string_view name);

  // Every known path of `inode` from the mount root (the root: {"/"}). `complete` is false when
  // names were lost (names_unknown, or a directory on the way has no known name): the caller must
  // then assume the inode may have other paths too.
  struct PathSet {
    std::vector<std::string> paths;
    bool complete = true;
  };
  PathSet Paths(const Inode* inode);

  // One path from the mount root ("/", "/usr/bin/ls"), the first of Paths(); nullopt if none is
  // known.
  std::optional<std::string> PathOf(const Inode* inode);

  // Number of Inodes held (tests, stats).
  size_t size();

 private:
  // Under mu_: the path of directory `dir` (its first known name), false if unknown.
  bool DirPathLocked(const Inode* dir, std::string* out);
  // Under mu_: adds (parent, name) to inode's names.
  void AddNameLocked(Inode* inode, const InodeKey& parent, std::string_view name);

  std::mutex mu_;  // guards map_ and every Inode's nlookup/names/names_unknown
  std::unordered_map<InodeKey, std::unique_ptr<Inode>, InodeKeyHash> map_;
  Inode* root_;
};

}  // namespace dfs::fs
