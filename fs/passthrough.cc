#include "fs/passthrough.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <optional>
#include <string_view>
#include <vector>

#include "common/log.h"
#include "common/mountinfo.h"
#include "fs/creds.h"
#include "fs/fd_table.h"

namespace dfs::fs {

namespace {

void Init(void* userdata, fuse_conn_info* conn) {
  auto* fs = static_cast<Passthrough*>(userdata);
  // Replies to READ may be spliced from the lower file.
  if (conn->capable & FUSE_CAP_SPLICE_WRITE) conn->want |= FUSE_CAP_SPLICE_WRITE;
  if (conn->capable & FUSE_CAP_SPLICE_MOVE) conn->want |= FUSE_CAP_SPLICE_MOVE;
  // The kernel clears setuid/setgid bits on write/truncate/chown itself (it knows the caller).
  conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
  // Writes go through to the lower file at once: POSIX timestamps, O_APPEND and errors stay exact.
  conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
  if (conn->capable & FUSE_CAP_CACHE_SYMLINKS) conn->want |= FUSE_CAP_CACHE_SYMLINKS;
  // POSIX ACLs: the kernel checks permissions with them (it implies default_permissions) and
  // leaves the umask to the file system, so that the lower one applies a parent's default ACL
  // or the caller's umask natively (ScopedUmask); the ACL xattrs pass through node_xattr.cc.
  if ((conn->capable & FUSE_CAP_POSIX_ACL) && (conn->capable & FUSE_CAP_DONT_MASK)) {
    conn->want |= FUSE_CAP_POSIX_ACL | FUSE_CAP_DONT_MASK;
  }
  // watch=on: directory opens are left to the kernel only if it knows how (no_opendir()).
  if (!(conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT)) fs->KernelLacksNoOpendir();
  fs->set_proto_minor(conn->proto_minor);
  // Locks stay in the kernel (no getlk/setlk/flock callbacks).
  conn->want &= ~(FUSE_CAP_POSIX_LOCKS | FUSE_CAP_FLOCK_LOCKS);
  // The kernel keeps the smaller of this and the readahead already set on the mount's bdi (which
  // session.cc raises to the lower device's before the loop starts).
  conn->max_readahead = 64u << 20;
  if (conn->max_write > fs->config().max_write || conn->max_write == 0) {
    conn->max_write = fs->config().max_write;
  }
  // libfuse insists that init() repeats the max_read= given at mount time.
  if (fs->config().max_read != 0) conn->max_read = fs->config().max_read;
  spdlog::info(
      "event=init proto={}.{} max_write={} max_readahead={} splice_write={} posix_acl={} "
      "kernel_passthrough={}",
      conn->proto_major, conn->proto_minor, conn->max_write, conn->max_readahead,
      (conn->want & FUSE_CAP_SPLICE_WRITE) != 0, (conn->want & FUSE_CAP_POSIX_ACL) != 0,
      fs->config().passthrough == PassthroughMode::kOff ? "off"
      : fs->kernel().offered()                          ? "offered"
                                                        : "not_offered");
}

}  // namespace

const fuse_lowlevel_ops& Passthrough::Ops() {
  static const fuse_lowlevel_ops ops = [] {
    fuse_lowlevel_ops o{};
    o.init = Init;
    RegisterLookupOps(&o);
    RegisterDirOps(&o);
    RegisterOpenRwOps(&o);
    RegisterXattrOps(&o);
    RegisterIoctlOps(&o);
    WrapCounted(&o, [](fuse_req_t req) { return &From(req).op_counters_; });
    return o;
  }();
  return ops;
}

Passthrough::Passthrough(Fd root_fd, const struct stat& root_st, FsConfig cfg)
    : cfg_(cfg), inodes_(std::move(root_fd), root_st) {}

Passthrough::~Passthrough() { Stop(); }

void Passthrough::Stop() {
  pool_.Stop();
  release_pool_.Stop();
  watch_.reset();  // after the workers (lookups read it); no invalidation is sent after this
  if (inval_thread_.joinable()) {
    {
      std::lock_guard lock(inval_mu_);
      inval_stop_ = true;
    }
    inval_cv_.notify_all();
    inval_thread_.join();
  }
}

namespace {
// Runs t, answering EIO for an exception out of it (see Passthrough::Offload).
std::function<void()> Guarded(fuse_req_t req, std::function<void()> t) {
  return [req, t = std::move(t)] {
    try {
      t();
    } catch (const std::exception& e) {
      spdlog::error("event=worker_exception what={}", LogQuote(e.what()));
      fuse_reply_err(req, EIO);
    } catch (...) {
      spdlog::error("event=worker_exception what=unknown");
      fuse_reply_err(req, EIO);
    }
  };
}
}  // namespace

void Passthrough::Offload(fuse_req_t req, std::function<void()> task) {
  try {
    // Fair among users (worker_pool.h): one user's hashes of huge files leave others a worker.
    const fuse_ctx* ctx = fuse_req_ctx(req);
    pool_.Submit(Guarded(req, std::move(task)),
                 ctx != nullptr ? static_cast<uint32_t>(ctx->uid) : 0);
  } catch (const std::exception& e) {
    spdlog::error("event=offload_failed what={}", LogQuote(e.what()));
    fuse_reply_err(req, EIO);
  }
}

void Passthrough::OffloadRelease(fuse_req_t req, uint32_t uid, std::function<void()> task) {
  try {
    release_pool_.Submit(Guarded(req, std::move(task)), uid);
  } catch (const std::exception& e) {
    spdlog::error("event=offload_failed what={}", LogQuote(e.what()));
    fuse_reply_err(req, EIO);
  }
}

Status Passthrough::Start() {
  proc_fd_.reset(open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!proc_fd_) return Status::FromErrno(errno, "opening /proc/self/fd");
  inodes_.SetProcFd(proc_fd_.get());
  {
    PathFd root = inodes_.Lower(inodes_.root());
    xattr_.Init(proc_fd_.get(), root ? root.get() : -1);
    spdlog::info("event=lower_xattr_calls relative={}", xattr_.relative());
  }
  lazy_readers_ = HaveCapability(CAP_DAC_OVERRIDE);
  // The kernel may cache any number of inodes; the daemon keeps descriptors for a bounded number
  // (the others are reopened from file handles) and raises its own limit as far as it may.
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    struct rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  size_t limit = rl.rlim_cur == RLIM_INFINITY ? kMaxCachedInodeFds * 4 : rl.rlim_cur;
  size_t capacity = std::clamp<size_t>(limit / 2, 16, kMaxCachedInodeFds);
  bool handles = HaveCapability(CAP_DAC_READ_SEARCH);
  if (handles) inodes_.EnableHandles(capacity);
  // The descriptor table is grown now, while this is the only thread, rather than by doubling
  // inside the LOOKUPs of a first pass, each doubling then waiting for an RCU grace period
  // (fs/fd_table.h).
  Result<size_t> slots = GrowFdTable(kFdTablePresize);
  if (!slots.ok()) {
    spdlog::warn("event=fd_table_not_grown error=\"{}\"", slots.status().ToString());
  }
  spdlog::info("event=descriptor_limit nofile={} inode_fds={} file_handles={} fd_table={}", limit,
               handles ? std::to_string(capacity) : std::string("unbounded"), handles,
               slots.ok() ? slots.value() : 0);
  if (cfg_.gate != nullptr) inval_thread_ = std::thread([this] { InvalidatorLoop(); });
  // This thread serves the session (the default loop). Its buffers, and each worker's, are
  // faulted in now rather than by the first opens and reads of the mount (docs/benchmarks.md:
  // about 10 us a page on the 2-vCPU VMs, 800 pages in a first `python3 -c 1`).
  PrepareThread(/*session=*/true);
  if (cfg_.workers == 0) PrepareThread(/*session=*/false);  // it hashes everything itself
  DFS_RETURN_IF_ERROR(pool_.Start(cfg_.workers, [this] { PrepareThread(/*session=*/false); }));
  // Three: with the pool's fairness (at most two per key), one long re-trust leaves a thread to
  // the same user's other releases and one to other users' (OffloadRelease).
  DFS_RETURN_IF_ERROR(release_pool_.Start(cfg_.workers > 0 ? 3 : 0));
  return Status::Ok();
}

int Passthrough::Reopen(const Inode& inode, int flags) {
  PathFd pfd = Lower(inode);
  if (!pfd) return -pfd.error();
  char name[16];
  snprintf(name, sizeof name, "%d", pfd.get());
  int fd = inodes_.OpenShedding(
      [&] { return openat(proc_fd_.get(), name, (flags & ~O_NOFOLLOW) | O_CLOEXEC); }, "reopen");
  return fd >= 0 ? fd : -errno;
}

namespace {
bool IsSpecialNode(mode_t mode) {
  return S_ISFIFO(mode) || S_ISSOCK(mode) || S_ISCHR(mode) || S_ISBLK(mode);
}
}  // namespace

int Passthrough::CheckNode(fuse_req_t req, Inode& parent, const char* name, const struct stat& st) {
  if (cfg_.gate == nullptr || !IsSpecialNode(st.st_mode)) return 0;
  OpenRequest r;
  r.st = st;
  // The name as the kernel will know it. Empty if the directory's path is not known: the Gate
  // then decides as strictly as any path could.
  if (auto dir = inodes_.PathOf(&parent)) r.path = (*dir == "/" ? "" : *dir) + "/" + name;
  r.op = AccessOp::kRead;
  if (req != nullptr) {
    const fuse_ctx* ctx = fuse_req_ctx(req);
    r.uid = ctx->uid;
    r.gid = ctx->gid;
    r.pid = static_cast<uint32_t>(ctx->pid);
  }
  Status s = cfg_.gate->CheckNode(r);
  if (s.ok()) return 0;
  return s.code() == Code::kPermissionDenied ? EACCES : EIO;
}

int Passthrough::DoLookup(fuse_req_t req, Inode& parent, const char* name, fuse_entry_param* e) {
  *e = fuse_entry_param{};
  if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strchr(name, '/') != nullptr) {
    return EINVAL;  // the kernel resolves these itself; never walk upwards
  }
  PathFd pfd = Lower(parent);
  if (!pfd) return pfd.error();
  // Short of descriptors, the cached ones make room (the lookup is not failed with EMFILE).
  Fd fd(inodes_.OpenShedding(
      [&] { return openat(pfd.get(), name, O_PATH | O_NOFOLLOW | O_CLOEXEC); }, "lookup"));
  if (!fd) return errno;
  if (fstatat(fd.get(), "", &e->attr, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) return errno;
  const bool special = cfg_.gate != nullptr && IsSpecialNode(e->attr.st_mode);
  if (special) {
    if (int err = CheckNode(req, parent, name, e->attr); err != 0) return err;
  }
  // A directory on another file system than its parent's (a mount beneath the lower root).
  if (watch_ != nullptr && S_ISDIR(e->attr.st_mode) && e->attr.st_dev != parent.key.dev) {
    WatchLookedUp(fd.get(), e->attr);
  }
  Inode* inode = inodes_.Intern(std::move(fd), e->attr, &parent, name);
  inode->NoteAttr(e->attr);
  e->ino = ino_of(inode, *this);
  e->attr_timeout = cfg_.attr_timeout;
  // A special node's name is decided per caller and per path walk (its directory may be moved
  // beneath the mount into an appraised tree): the kernel must not reuse the entry.
  e->entry_timeout = special ? 0.0 : cfg_.entry_timeout;
  return 0;
}

bool Passthrough::RequestsPending() const {
  if (session_ == nullptr) return true;
  pollfd p{fuse_session_fd(session_), POLLIN, 0};
  return poll(&p, 1, 0) != 0;  // ready, or an error: be conservative
}

void Passthrough::Changed(const Inode& inode) { ChangedKey(inode.key); }

void Passthrough::ChangedKey(const InodeKey& key) {
  if (cfg_.gate == nullptr) return;
  cfg_.gate->Changed(key.dev, key.ino);
  {
    std::lock_guard lock(inval_mu_);
    if (!inval_pending_.insert(key).second) return;  // already queued
    inval_queue_.push_back(key);
  }
  inval_cv_.notify_one();
}

void Passthrough::InvalidatorLoop() {
  std::unique_lock lock(inval_mu_);
  for (;;) {
    inval_cv_.wait(lock, [this] { return inval_stop_ || !inval_queue_.empty(); });
    if (inval_stop_) return;
    InodeKey key = inval_queue_.front();
    inval_queue_.pop_front();
    inval_pending_.erase(key);
    lock.unlock();
    // The Inode may be forgotten right after WithInode returns: only its nodeid is used below,
    // and the kernel ignores an unknown one.
    fuse_ino_t nodeid = 0;
    inodes_.WithInode(key, [&](Inode* inode) {
      std::lock_guard ilock(inode->mu);
      inode->stamp_valid = false;
      nodeid = ino_of(inode, *this);
    });
    if (nodeid != 0 && session_ != nullptr) {
      int rc = fuse_lowlevel_notify_inval_inode(session_, nodeid, 0, 0);
      if (rc != 0 && rc != -ENOENT) spdlog::debug("event=inval_inode_failed err={}", -rc);
    }
    lock.lock();
  }
}

Status Passthrough::StartWatch(const std::string& mountpoint) {
  auto w = LowerWatch::Start([this](const struct stat& dir, std::string_view name,
                                    bool listing) { LowerEntryChanged(dir, name, listing); },
                             [this] { LowerChangesLost(); });
  if (!w.ok()) return w.status();
  PathFd root = inodes_.Lower(inodes_.root());
  if (!root) return Status::FromErrno(root.error(), "the lower root");
  DFS_RETURN_IF_ERROR((*w)->Watch(root.get()));
  // Every file system mounted beneath the lower root must be marked too, or a change beneath it
  // would never reach the kernel's cached listings once directory opens are left to the kernel.
  char link[64];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", root.get());
  char buf[PATH_MAX];
  ssize_t n = readlink(link, buf, sizeof buf - 1);
  if (n <= 0) return Status::FromErrno(errno, "the lower root's path");
  std::string prefix(buf, static_cast<size_t>(n));
  if (prefix != "/") prefix += '/';
  bool all = true;
  size_t marked = 1;
  std::ifstream mi("/proc/self/mountinfo");
  if (!mi) {
    all = false;
    spdlog::warn("event=lower_watch_incomplete reason=mountinfo_unreadable");
  }
  for (std::string line; std::getline(mi, line);) {
    std::optional<MountEntry> m = ParseMountinfoLine(line);
    if (!m) continue;
    const std::string& mp = m->mountpoint;
    if (mp.size() <= prefix.size() || mp.compare(0, prefix.size(), prefix) != 0) continue;
    // This very mount (MOUNTPOINT beneath SOURCE) is not part of the lower tree. Nothing is
    // mounted on it yet: the session has not served a request.
    if (mp == mountpoint && m->fstype.rfind("fuse", 0) == 0) {
      unsigned maj = 0, min = 0;
      if (std::sscanf(m->majmin.c_str(), "%u:%u", &maj, &min) == 2) own_dev_ = makedev(maj, min);
      continue;
    }
    // Opened from the lower root's descriptor, never by its absolute path: with SOURCE the same
    // as MOUNTPOINT that path leads through this mount, whose requests nobody serves yet.
    const std::string rel = mp.substr(prefix.size());
    Fd d(openat(root.get(), rel.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    // Not held: a file system nothing was looked up on stays unmountable (as without the
    // watch); the lookup of its root holds it (WatchLookedUp).
    Status ws = d ? (*w)->Watch(d.get(), /*hold=*/false) : Status::FromErrno(errno, "opening it");
    if (!ws.ok()) {
      all = false;
      spdlog::warn("event=lower_watch_incomplete mountpoint={} status={}", LogQuote(mp),
                   LogQuote(ws.ToString()));
    } else {
      ++marked;
    }
  }
  watch_ = std::move(w).value();
  no_opendir_.store(all, std::memory_order_relaxed);
  spdlog::info("event=lower_watch_started mounts_marked={} no_opendir={}", marked, all);
  return Status::Ok();
}

void Passthrough::WatchLookedUp(int fd, const struct stat& st) {
  // This mount itself, reached through the lower tree (MOUNTPOINT beneath SOURCE): its statfs
  // would be a request to this very session.
  if (watch_ == nullptr || st.st_dev == own_dev_ || watch_->Watches(st.st_dev, fd)) return;
  {
    std::lock_guard lock(unwatched_mu_);
    for (dev_t d : unwatched_) {
      if (d == st.st_dev) return;
    }
  }
  Status s = watch_->Watch(fd);
  if (s.ok()) {
    spdlog::info("event=lower_watch_added device={}:{}", major(st.st_dev), minor(st.st_dev));
    return;
  }
  std::lock_guard lock(unwatched_mu_);
  unwatched_.push_back(st.st_dev);
  spdlog::warn(
      "event=lower_watch_incomplete device={}:{} status={} (changes made beneath the mount "
      "there are not seen in its cached names and listings)",
      major(st.st_dev), minor(st.st_dev), LogQuote(s.ToString()));
}

void Passthrough::LowerEntryChanged(const struct stat& dir, std::string_view name,
                                    bool listing_changed) {
  fuse_ino_t nodeid = 0;
  inodes_.WithInode(InodeKey{dir.st_dev, dir.st_ino}, [&](Inode* inode) {
    if (listing_changed) {
      std::lock_guard ilock(inode->mu);
      inode->stamp_valid = false;  // an OPENDIR (without no_opendir) drops the listing too
    }
    nodeid = ino_of(inode, *this);
  });
  if (nodeid == 0 || session_ == nullptr) return;  // the kernel holds nothing of that directory
  // The name first (its next use looks it up again), then the directory's attributes and cached
  // listing.
  if (!name.empty() && name != "." && name != "..") ExpireEntry(nodeid, name);
  if (listing_changed) {
    int rc = fuse_lowlevel_notify_inval_inode(session_, nodeid, 0, 0);
    if (rc != 0 && rc != -ENOENT) spdlog::debug("event=inval_inode_failed err={}", -rc);
  }
}

bool Passthrough::ExpireEntry(fuse_ino_t parent, std::string_view name) {
  // Before 7.38 the kernel ignores the flag and drops the entry, which would detach whatever is
  // mounted on it (a container's bind mounts on its rootfs): then nothing is sent.
  if (proto_minor_.load(std::memory_order_relaxed) < 38 || name.size() > 255) return false;
  struct {
    uint32_t len;
    int32_t error;
    uint64_t unique;
  } out{};
  struct {
    uint64_t parent;
    uint32_t namelen;
    uint32_t flags;
  } arg{parent, static_cast<uint32_t>(name.size()), 1u /* FUSE_EXPIRE_ONLY */};
  static_assert(sizeof out == 16 && sizeof arg == 16);
  const char nul = '\0';
  out.len = static_cast<uint32_t>(sizeof out + sizeof arg + name.size() + 1);
  out.error = 3;  // FUSE_NOTIFY_INVAL_ENTRY
  iovec iov[4] = {{&out, sizeof out},
                  {&arg, sizeof arg},
                  {const_cast<char*>(name.data()), name.size()},
                  {const_cast<char*>(&nul), 1}};
  ssize_t n = writev(fuse_session_fd(session_), iov, 4);
  if (n < 0 && errno != ENOENT) spdlog::debug("event=expire_entry_failed err={}", strerror(errno));
  return true;
}

void Passthrough::LowerChangesLost() {
  std::vector<fuse_ino_t> dirs;
  inodes_.ForEachInode([&](Inode* inode) {
    if (!inode->is_dir()) return;
    std::lock_guard ilock(inode->mu);
    inode->stamp_valid = false;
    dirs.push_back(ino_of(inode, *this));
  });
  if (session_ == nullptr) return;
  for (fuse_ino_t d : dirs) fuse_lowlevel_notify_inval_inode(session_, d, 0, 0);
}

std::string Passthrough::PathOf(const Inode* inode) {
  auto p = inodes_.PathOf(inode);
  return p ? *p : std::string();
}

void ReplyEntry(fuse_req_t req, int err, const fuse_entry_param& e) {
  if (err != 0) {
    fuse_reply_err(req, err);
  } else if (fuse_reply_entry(req, &e) == -ENOENT) {
    // The request was interrupted; the kernel will not remember this lookup.
    Passthrough& fs = Passthrough::From(req);
    fs.inodes().Forget(&fs.inode(e.ino), 1);
  }
}

}  // namespace dfs::fs
