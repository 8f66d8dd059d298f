// fs/inode_table.h: the daemon's view of the lower tree: one Inode per lower (dev, ino) that the
// kernel currently holds a lookup reference to.
//
// Descriptors: each Inode is reached through an O_PATH|O_NOFOLLOW descriptor of the lower object,
// obtained first by a one-component openat() relative to its parent's descriptor (never by a path
// string), so a symlink swapped into the lower tree can never lead outside it. The kernel may
// cache any number of inodes, so the table does not keep a descriptor per Inode: with
// EnableHandles() (the daemon has CAP_DAC_READ_SEARCH and the lower file system decodes file
// handles) it records each Inode's file handle (name_to_handle_at) and keeps at most `capacity`
// descriptors open, least recently used first out; a descriptor closed that way is reopened from
// the handle (open_by_handle_at), which names exactly that inode (inode number and generation),
// never a path that a rename beneath the mount could redirect. An Inode without a usable handle
// (the root, a file system without handle support) keeps its descriptor for as long as it is
// held. Lower() leases the descriptor for the duration of one operation.
//
// The fuse_ino_t handed to the kernel is the Inode's address; it stays valid until the kernel
// forgets its last lookup reference.
//
// Paths: FUSE opens carry no name, so each Inode keeps the SET of names (parent key + name) it is
// known by: added on lookup, create, mknod, link and rename target; removed on unlink, rmdir and
// rename source. Paths() builds each path from the TRUE path of the parent directory at the time
// of the call (the kernel's path of the directory's descriptor, which follows renames made beneath
// the mount) and checks that the name still leads to the inode. A name changed beneath the mount
// therefore never yields a wrong path: a name that no longer leads to the inode makes the set
// incomplete (unless the file has a single link and another known name is verified), and the Gate
// must then decide as strictly as any path could. A name never seen through the mount is not
// known. More than kMaxNames names mark the inode "names unknown" for as long as it is held.
//
// Thread safety: all methods may be called concurrently. Lock order: InodeTable::mu_ before
// InodeTable::fd_mu_ (a leaf) and before Inode::mu; never call into the kernel (fuse_reply_*,
// fuse_lowlevel_notify_*) holding any of them.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
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

// A file handle of a lower object (name_to_handle_at) and a descriptor of its mount for
// open_by_handle_at.
struct LowerHandle {
  std::vector<unsigned char> bytes;  // struct file_handle, handle_bytes filled
  std::shared_ptr<const Fd> mount;   // an open (not O_PATH) directory on the same mount
};

// A lease on an Inode's lower O_PATH descriptor (InodeTable::Lower): the descriptor stays open,
// and is never reused for another object, while the lease lives. Empty, with error() set, if the
// descriptor could not be reopened. Cheap to copy.
class PathFd {
 public:
  PathFd() = default;
  int get() const { return fd_ ? fd_->get() : -1; }
  explicit operator bool() const { return fd_ != nullptr; }
  // The errno of a failed reopen (ENOENT for an object deleted meanwhile, EMFILE/ENFILE when the
  // daemon is short of descriptors).
  int error() const { return err_; }

 private:
  friend class InodeTable;
  std::shared_ptr<const Fd> fd_;
  int err_ = EBADF;
};

struct Inode {
  // Immutable after construction.
  InodeKey key;     // lower (st_dev, st_ino)
  mode_t type = 0;  // S_IFMT bits
  // How a closed descriptor is reopened; empty: `pinned` holds it for the Inode's lifetime.
  std::optional<LowerHandle> handle;
  std::shared_ptr<const Fd> pinned;

  // Guarded by InodeTable::fd_mu_: the open descriptor if any lease or the LRU holds it.
  mutable std::weak_ptr<const Fd> fd_weak;
  mutable std::shared_ptr<const Fd> lru_ref;  // the LRU's reference (in_lru)
  mutable std::list<const Inode*>::iterator lru_it;
  mutable bool in_lru = false;

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
  // An open is pushing the file's bytes into the kernel's page cache (node_open_rw.cc, Prefill):
  // other opens of the inode wait (closed_cv) until the store is done (the session thread hands
  // its open to a worker instead), so no reader of the inode can hold a page locked while it
  // waits for a READ.
  bool prefilling = false;
  // Whether the kernel may hold cached pages of the inode: an open served through its page cache
  // was answered since this node was made (the kernel's inode is new with the node).
  bool pages_maybe = false;
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

  // verify=blocks (Gate::verify_blocks): what the kernel's page cache of the inode may hold.
  // checked_open: open handles whose every read is checked against block digests before it is
  // served (their fills are verified bytes). unchecked_open: open handles served through the page
  // cache whose reads are not checked (writers, opens the policy does not appraise).
  // cache_unchecked: since the cache was last dropped, an unchecked handle may have filled pages.
  // checked_versions: the block digests the open block-checked handles check with, one entry
  // per distinct set (Gate::TicketDigests; opens of one version of the file share one), with a
  // ticket (OpenTicket::blocks) holding it and the number of such handles. The page cache is the
  // inode's, shared by every handle: a READ of any handle (a page fill, say of a private mapping)
  // is checked against every entry, so no handle can bring in a page another would refuse.
  struct CheckedVersion {
    const void* key = nullptr;
    int opens = 0;
    std::shared_ptr<const void> blocks;
  };
  int checked_open = 0;
  int unchecked_open = 0;
  bool cache_unchecked = false;
  std::vector<CheckedVersion> checked_versions;

  // A directory: the type of its lower file system (statfs f_type), 0 until first needed
  // (node_dir_ops.cc, LowerFsType). A node's lower object never changes file system. Any thread.
  std::atomic<uint64_t> lower_fs_type{0};

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

  // Keeps at most `capacity` descriptors of Inodes with a usable file handle open (the others
  // are reopened from their handle when leased). Call once, before serving, and only if the
  // daemon may use open_by_handle_at (CAP_DAC_READ_SEARCH); without it every Inode keeps its
  // descriptor. Whether a file system decodes handles is checked once per lower mount.
  void EnableHandles(size_t capacity);

  // An O_PATH descriptor of /proc/self/fd of the serving process (not owned; it must outlive the
  // table), through which Paths() reads directories' paths a little faster than by absolute path.
  // Call once, before serving; optional.
  void SetProcFd(int proc_self_fd) { proc_fd_ = proc_self_fd; }

  // Leases the lower O_PATH descriptor of `inode` (held by the caller's request), reopening it
  // from its handle if it was closed. On EMFILE/ENFILE the least recently used descriptors are
  // closed and the reopen is tried once more (and a warning logged).
  PathFd Lower(const Inode& inode);

  // For a caller short of descriptors (EMFILE/ENFILE) before it tries again: closes the older
  // half (at least one) of the cached descriptors that nothing else leases, and drops from the
  // cache those that are leased (an open file's, an operation's), which then close when their
  // lease ends.
  void ShedDescriptors();
  // Logs (at most every 10 s) that the daemon is short of descriptors, if err is EMFILE or
  // ENFILE; `what` names the operation.
  void NoteDescriptorError(int err, std::string_view what);
  // Runs `open` (a descriptor, or -1 with errno set). If it fails short of descriptors
  // (EMFILE/ENFILE), logs that (NoteDescriptorError), sheds cached descriptors (ShedDescriptors)
  // and runs it once more. Returns its last result, with errno from its last failure.
  template <class Open>
  int OpenShedding(Open&& open, std::string_view what) {
    for (int attempt = 0;; ++attempt) {
      const int fd = open();
      if (fd >= 0) return fd;
      const int err = errno;
      NoteDescriptorError(err, what);
      if ((err != EMFILE && err != ENFILE) || attempt == 1) {
        errno = err;
        return -1;
      }
      ShedDescriptors();
    }
  }

  // Descriptors held open for Inodes: the LRU's, and the pinned ones (tests, stats).
  struct FdStats {
    size_t cached = 0;
    size_t capacity = 0;
    size_t pinned = 0;
  };
  FdStats fd_stats();

  // Registers one lookup reference for the object `fd` (O_PATH, ownership taken) with stat `st`,
  // seen as `name` in `parent`. Returns the existing Inode if (dev, ino) is known (fd is then
  // closed), a new one otherwise (its handle recorded, and fd cached, when handles are enabled).
  // Never fails.
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
  // Calls fn(inode) under the table lock for every Inode the kernel holds (the root included);
  // the same rules as WithInode.
  void ForEachInode(const std::function<void(Inode*)>& fn);

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

  // Every known path of `inode` from the mount root (the root: {"/"}), each true at the time of
  // the call: the parent directory's path is the one the lower file system has now, and the name
  // still leads to the inode (paths whose name no longer does are listed after the true ones, as
  // candidates, unless a single-link file has a verified one). `complete` is false when a path may
  // be missing or wrong: names_unknown; a parent no longer held, deleted, or moved out of the lower
  // tree; a known name that no longer leads to the inode (unless the inode has one link and one
  // known name is verified, which is then its only path). The caller must then assume the inode may
  // have other paths too.
  struct PathSet {
    std::vector<std::string> paths;
    bool complete = true;
    // The inode's attributes as the check of a verified name found them (that name led to this
    // very inode, which the caller's lease keeps alive): as good as an fstat at the same moment.
    bool have_st = false;
    struct stat st {};
  };
  PathSet Paths(const Inode* inode);

  // One path from the mount root ("/", "/usr/bin/ls"), the first of Paths() (a verified one if
  // any); nullopt if none is known.
  std::optional<std::string> PathOf(const Inode* inode);

  // Number of Inodes held (tests, stats).
  size_t size();

 private:
  // The path of the directory behind `fd` relative to the lower root ("" for the root itself,
  // "/usr/lib" otherwise); false if it is deleted or not beneath the lower root.
  bool DirPath(const PathFd& fd, std::string* out);
  // The kernel's path of the object behind `fd`, false if it has none.
  bool KernelPath(int fd, std::string* out);
  // KernelPath for a directory whose path is longer than the kernel gives through /proc (PATH_MAX,
  // ENAMETOOLONG): walks up through ".." until an ancestor's path can be read, finding each
  // directory's name in its parent by inode number. False if a step fails (a name gone, a
  // directory deleted), or beyond kMaxWalkUp levels.
  bool LongKernelPath(int fd, std::string* out, int depth = 0);
  static constexpr int kMaxWalkUp = 512;
  // Under mu_: adds (parent, name) to inode's names.
  void AddNameLocked(Inode* inode, const InodeKey& parent, std::string_view name);
  // A handle of the object `fd` if its mount decodes handles (checked, for a new mount, from a
  // directory), nullopt otherwise.
  std::optional<LowerHandle> MakeHandle(int fd, const struct stat& st);
  // Under fd_mu_: makes `inode` (holding `fd`) the most recently used, evicting beyond capacity
  // into `closed` (closed by the caller after unlocking).
  void TouchLocked(const Inode& inode, const std::shared_ptr<const Fd>& fd,
                   std::vector<std::shared_ptr<const Fd>>* closed);
  // Under fd_mu_: closes LRU descriptors down to `keep` (into `closed`).
  void ShrinkLocked(size_t keep, std::vector<std::shared_ptr<const Fd>>* closed);

  std::mutex mu_;  // guards map_ and every Inode's nlookup/names/names_unknown
  std::unordered_map<InodeKey, std::unique_ptr<Inode>, InodeKeyHash> map_;
  Inode* root_;

  std::mutex fd_mu_;               // a leaf: guards lru_, capacity_ and every Inode's fd_weak/lru_*
  std::list<const Inode*> lru_;    // most recently used first
  size_t capacity_ = 0;            // 0: handles disabled
  std::atomic<size_t> pinned_{0};  // Inodes holding a pinned descriptor

  std::mutex mounts_mu_;  // a leaf: guards mounts_
  struct MountEntry {
    std::shared_ptr<const Fd> fd;  // null: the mount's file system does not decode handles
  };
  std::unordered_map<int, MountEntry> mounts_;  // by mount id (name_to_handle_at)

  int proc_fd_ = -1;         // set before serving, then read-only
  std::mutex root_path_mu_;  // a leaf: guards root_path_
  std::string root_path_;    // the lower root's path in the daemon's namespace (a cache)
};

}  // namespace dfs::fs
