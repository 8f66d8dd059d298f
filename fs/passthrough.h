// fs/passthrough.h: the FUSE low-level passthrough. One Passthrough object serves one mount;
// libfuse hands it to every callback as the session's userdata (fuse_req_userdata), so there is no
// global.
//
// The operations are split by family (gocryptfs style), each file registering its callbacks:
//   node_lookup.cc   lookup, forget, getattr, setattr, readlink, access, statfs
//   node_dir_ops.cc  mknod, mkdir, symlink, link, unlink, rmdir, rename, opendir/readdir(plus)/...
//   node_open_rw.cc  open, create, read, write, flush, release, fsync, fallocate,
//                    copy_file_range, lseek
//   node_xattr.cc    get/set/list/removexattr
//   node_ioctl.cc    ioctl (inode flags; ENOTTY for the rest)
// In each, do_x() does the work and returns 0 or an errno; only x() replies to the kernel, or a
// ServeX() that x() runs inline or hands to a worker (which then replies).
//
// Locks: the kernel's POSIX and flock locks are handled by the kernel itself (no getlk/setlk/flock
// callbacks), which gives exact local semantics for everything using the mount, OFD locks included.
//
// Thread safety: every callback may run on any session thread concurrently.
#pragma once

#include <fuse_lowlevel.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>

#include "common/fd.h"
#include "fs/inode_table.h"
#include "fs/kernel_passthrough.h"
#include "fs/lower_watch.h"
#include "fs/lower_xattr.h"
#include "fs/op_counters.h"
#include "fs/worker_pool.h"
#include "policy/gate.h"

namespace dfs::fs {

struct FsConfig {
  double entry_timeout = 86400.0;  // kernel dentry cache lifetime (s)
  double attr_timeout = 86400.0;   // kernel attribute cache lifetime (s)
  unsigned max_write = 1u << 20;   // bytes per WRITE request
  unsigned max_read = 0;           // the max_read= mount option (0: none given)
  Gate* gate = nullptr;            // not owned; null: plain passthrough (mode=off)
  unsigned workers = 4;            // threads for operations that may block long; 0: inline
  // Which files to serve through the kernel's passthrough where the kernel offers it (only
  // without a Gate: see docs/mount.md, "Kernel passthrough").
  PassthroughMode passthrough = PassthroughMode::kAuto;
  // Largest file whose bytes an open pushes into the kernel's page cache itself (Prefill in
  // node_open_rw.cc); 0: never.
  size_t prefill_max = 128 * 1024;  // the default of prefill_kb= (fs/options.h)
  // A security.selinux the lower file lacks is answered EOPNOTSUPP instead of ENODATA
  // (selinux_xattr=auto where neither SELinux nor EVM is in the kernel; node_xattr.cc).
  bool absent_selinux_unsupported = false;
};

// An open regular file (fuse_file_info::fh).
struct FileHandle {
  Fd fd;
  Inode* inode = nullptr;
  // The inode's O_PATH descriptor, leased until the handle has its own lower file (fd): it keeps
  // an object unlinked meanwhile alive (as an open file does natively) for a reader whose own
  // lower file is opened later (lazy_flags). Dropped once fd is open, so that an open file costs
  // the daemon one descriptor, as natively. Under lazy_mu once the handle is published.
  PathFd inode_fd;
  bool writer = false;
  uint32_t uid = 0;         // the opener's (a release comes without the caller's credentials)
  OpenTicket ticket;        // from Gate::CheckOpen
  int32_t backing_id = -1;  // >= 0: opened in kernel passthrough (the inode's backing id)
  // >= 0: a reader whose lower fd is opened on first need (HandleFd), with these flags, under
  // lazy_mu; -1: fd was set before the handle was published (writers, O_TRUNC).
  int lazy_flags = -1;
  std::mutex lazy_mu;
  // Counted in the inode's checked_open / unchecked_open (verify=blocks) until closed; a checked
  // handle also in the inode's checked_versions entry of this key (Gate::TicketDigests).
  bool checked = false;
  bool unchecked = false;
  const void* checked_key = nullptr;
  // Set by FinishOpen: the open pushes this many bytes (the whole file) into the kernel's page
  // cache before its reply (the inode's prefilling flag is held until then); 0: not.
  size_t prefill = 0;
  bool prefill_inval = false;  // with prefill: the kernel may hold pages of an earlier version
};

class Passthrough {
 public:
  static constexpr size_t kMaxCachedInodeFds = 65536;

  Passthrough(Fd root_fd, const struct stat& root_st, FsConfig cfg);
  ~Passthrough();
  Passthrough(const Passthrough&) = delete;
  Passthrough& operator=(const Passthrough&) = delete;

  // The callback table (all families registered).
  static const fuse_lowlevel_ops& Ops();

  static Passthrough& From(fuse_req_t req) {
    return *static_cast<Passthrough*>(fuse_req_userdata(req));
  }

  // Must be called after fuse_session_new and before the loop (for kernel notifications).
  void set_session(fuse_session* se) { session_ = se; }
  // Opens /proc/self/fd, raises the soft RLIMIT_NOFILE to the hard limit, bounds the descriptors
  // kept for inodes (half that limit, at most kMaxCachedInodeFds; only with
  // CAP_DAC_READ_SEARCH, see InodeTable::EnableHandles) and starts the worker and invalidation
  // threads. Call once, in the process that serves (after any fork), before the loop. kIo if
  // /proc is not mounted.
  Status Start();
  // Finishes queued work and stops the threads. Call after the loop ends, before the session is
  // destroyed.
  void Stop();

  // Runs `task` (which replies to `req`) on a worker thread, or inline without workers, fairly
  // among the calling users (worker_pool.h). An
  // exception out of the task (e.g. std::bad_alloc), or out of queueing it, is logged and answered
  // EIO instead of ending the daemon; the task must therefore not throw after it has replied.
  void Offload(fuse_req_t req, std::function<void()> task);
  // Like Offload, for a writer's release, which opens of the same file wait for (Inode::closing):
  // run on threads of their own, never queued behind those opens. Every worker could otherwise be
  // an open waiting for a release that no worker is free to run (seen with
  // integ_enforce_concurrent: three workers waiting, the fourth closed to their uid by the fairness
  // limit). `uid` is the writer's (its open's caller: the kernel sends a release without
  // credentials): three release threads, at most two of them one user's (WorkerPool fairness), so
  // one long re-trust (Gate::WriterClosed hashing a large file) holds neither that user's other
  // releases nor another user's. Releases of one file are ordered by Inode::closing (an open
  // waits for them), not by this pool.
  void OffloadRelease(fuse_req_t req, uint32_t uid, std::function<void()> task);
  // Whether the kernel has more requests queued for this session right now (a zero-timeout poll
  // of /dev/fuse). A short blocking operation may then be served inline without delaying anyone.
  bool RequestsPending() const;

  const FsConfig& config() const { return cfg_; }
  Gate* gate() const { return cfg_.gate; }
  InodeTable& inodes() { return inodes_; }
  Inode& inode(fuse_ino_t ino) {
    return ino == FUSE_ROOT_ID ? inodes_.root() : *reinterpret_cast<Inode*>(ino);
  }
  static fuse_ino_t ino_of(Inode* i, Passthrough& fs) {
    return i == &fs.inodes().root() ? FUSE_ROOT_ID : reinterpret_cast<fuse_ino_t>(i);
  }
  int proc_self_fd() const { return proc_fd_.get(); }
  // Extended attributes of lower inodes (set up by Start()).
  const LowerXattr& xattr() const { return xattr_; }
  fuse_session* session() const { return session_; }
  // Whether readers' lower files are opened when first needed rather than at OPEN: only if the
  // daemon has CAP_DAC_OVERRIDE, so that its later open cannot fail on permissions the reader's
  // open passed (a chmod in between: an open descriptor keeps working natively). Set by Start().
  bool lazy_readers() const { return lazy_readers_; }
  KernelPassthrough& kernel() { return kernel_; }
  // FUSE requests served, per opcode (every callback of Ops() counts its request).
  const OpCounters& op_counters() const { return op_counters_; }

  // Leases the lower O_PATH descriptor of `inode` (InodeTable::Lower); if it is empty, answer
  // its error().
  PathFd Lower(const Inode& inode) { return inodes_.Lower(inode); }

  // Opens the lower object of `inode` with `flags` through /proc/self/fd (the only way to turn an
  // O_PATH descriptor into an open file without a path walk). Returns the fd or -errno.
  int Reopen(const Inode& inode, int flags);

  // One-component lookup of `name` in `parent` for the caller of `req`; fills `e` and takes one
  // lookup reference. 0/errno. A FIFO, socket or device node is first put to CheckNode (EACCES
  // where the policy appraises it, no reference taken), and with a Gate it gets an entry
  // timeout of 0, so that the kernel asks again at every path walk, as each caller.
  int DoLookup(fuse_req_t req, Inode& parent, const char* name, fuse_entry_param* e);

  // Whether the FIFO, socket or device node `st` may be named `name` in `parent` by the caller of
  // `req` (Gate::CheckNode). 0, or EACCES (EIO for another Gate error). 0 without a Gate and for
  // regular files, directories and symlinks.
  int CheckNode(fuse_req_t req, Inode& parent, const char* name, const struct stat& st);

  // The file (dev, ino) changed through the mount: tell the Gate and, when there is one, drop the
  // kernel's cached pages of it (asynchronously: invalidating from inside a WRITE would deadlock).
  void Changed(const Inode& inode);
  void ChangedKey(const InodeKey& key);

  // Best-effort path of `inode` from the mount root, "" if unknown.
  std::string PathOf(const Inode* inode);

  // watch=on (docs/mount.md, "Watching the lower tree"): watches the lower file system and every
  // file system mounted beneath the lower root (lower_watch.h), and drops the kernel's cached
  // entry and listing of a directory whose entries change beneath the mount. If every one of them
  // could be marked, directory opens are left to the kernel (no_opendir()). Call once, after
  // set_session() and before the loop; errors (logged by the caller) leave the mount as without
  // watch=on.
  // `mountpoint`: this mount's canonical path (resolved before mounting): its own mountinfo entry
  // is skipped in the scan.
  Status StartWatch(const std::string& mountpoint);
  // Whether OPENDIR is answered ENOSYS, so that the kernel opens directories itself from then on
  // and keeps their listings until told they changed (requires the watch of StartWatch()).
  bool no_opendir() const { return no_opendir_.load(std::memory_order_relaxed); }
  // Whether the watch of StartWatch() runs and still reads events, and how many it has read.
  bool watching() const { return watch_ != nullptr && watch_->working(); }
  uint64_t watch_events() const { return watch_ != nullptr ? watch_->events() : 0; }
  // INIT: the kernel cannot leave directory opens to itself (no FUSE_NO_OPENDIR_SUPPORT).
  void KernelLacksNoOpendir() { no_opendir_.store(false, std::memory_order_relaxed); }
  // INIT: the protocol minor version the kernel speaks.
  void set_proto_minor(unsigned m) { proto_minor_.store(m, std::memory_order_relaxed); }
  // A directory was looked up: if the watch is on and its file system is not marked yet (a file
  // system mounted beneath the lower root after the mount started), marks it, or logs once that
  // changes beneath it are not seen.
  void WatchLookedUp(int fd, const struct stat& st);

 private:
  // Makes the buffers this thread will use resident before it serves (common/byte_buffer.h,
  // Prefault): the session thread's read buffer and the Gate's (Gate::PrepareThread).
  void PrepareThread(bool session);
  void InvalidatorLoop();
  // LowerWatch callbacks (on its thread).
  void LowerEntryChanged(const struct stat& dir, std::string_view name, bool listing_changed);
  // Tells the kernel that its entry `name` in directory `parent` may be stale, without dropping
  // it (FUSE_NOTIFY_INVAL_ENTRY with FUSE_EXPIRE_ONLY, protocol 7.38): its next use looks it up
  // again and keeps it, with whatever is mounted on it, if it still names the same node. False
  // if the kernel is older (nothing sent).
  bool ExpireEntry(fuse_ino_t parent, std::string_view name);
  void LowerChangesLost();

  FsConfig cfg_;
  InodeTable inodes_;
  Fd proc_fd_;  // /proc/self/fd
  LowerXattr xattr_;
  bool lazy_readers_ = false;
  fuse_session* session_ = nullptr;

  // Asynchronous page-cache invalidation (only with a Gate). Lock order: inval_mu_ is a leaf.
  std::mutex inval_mu_;
  std::condition_variable inval_cv_;
  std::deque<InodeKey> inval_queue_;                          // guarded by inval_mu_
  std::unordered_set<InodeKey, InodeKeyHash> inval_pending_;  // guarded by inval_mu_; = queue
  bool inval_stop_ = false;                                   // guarded by inval_mu_
  std::thread inval_thread_;

  WorkerPool pool_;
  WorkerPool release_pool_;  // three threads for writers' releases (OffloadRelease)
  KernelPassthrough kernel_;
  OpCounters op_counters_;
  std::unique_ptr<LowerWatch> watch_;    // watch=on
  std::atomic<bool> no_opendir_{false};  // set by StartWatch() before the loop, and at INIT
  std::atomic<unsigned> proto_minor_{0};
  dev_t own_dev_ = 0;             // this mount's device when it lies in the lower tree (StartWatch)
  std::mutex unwatched_mu_;       // a leaf: guards unwatched_
  std::vector<dev_t> unwatched_;  // file systems that could not be marked (logged once)
};

// Ownership of a handle kept in fuse_file_info::fh (FileHandle, DirHandle): PublishHandle hands it
// to the kernel; AdoptHandle takes it back exactly once (in release/releasedir, or when the reply
// that carried it did not reach the kernel) and clears fi->fh.
template <typename T>
void PublishHandle(fuse_file_info* fi, std::unique_ptr<T> h) {
  fi->fh = reinterpret_cast<uint64_t>(h.release());
}
template <typename T>
std::unique_ptr<T> AdoptHandle(fuse_file_info* fi) {
  auto* p = reinterpret_cast<T*>(fi->fh);
  fi->fh = 0;
  return std::unique_ptr<T>(p);
}

// Registration of each family's callbacks.
void RegisterLookupOps(fuse_lowlevel_ops* ops);
void RegisterDirOps(fuse_lowlevel_ops* ops);
void RegisterOpenRwOps(fuse_lowlevel_ops* ops);
void RegisterXattrOps(fuse_lowlevel_ops* ops);
void RegisterIoctlOps(fuse_lowlevel_ops* ops);

// Reply helpers shared by the families.
void ReplyEntry(fuse_req_t req, int err, const fuse_entry_param& e);

}  // namespace dfs::fs
