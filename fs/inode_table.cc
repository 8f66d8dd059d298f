#include "fs/inode_table.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "common/log.h"
#include "fs/cwd_path.h"

namespace dfs::fs {

namespace {

file_handle* AsHandle(std::vector<unsigned char>& bytes) {
  return reinterpret_cast<file_handle*>(bytes.data());
}

bool SameObject(int fd, const InodeKey& key) {
  struct stat st;
  return fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0 &&
         static_cast<uint64_t>(st.st_dev) == key.dev && static_cast<uint64_t>(st.st_ino) == key.ino;
}

}  // namespace

InodeTable::InodeTable(Fd root_fd, const struct stat& st) {
  InitCwdHome();  // before any serving thread asks for a directory's path (KernelPath)
  auto root = std::make_unique<Inode>();
  root->pinned = std::make_shared<const Fd>(std::move(root_fd));
  root->fd_weak = root->pinned;
  root->key = {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
  root->type = st.st_mode & S_IFMT;
  root->nlookup = 2;  // never reaches zero
  root_ = root.get();
  pinned_ = 1;
  map_.emplace(root_->key, std::move(root));
}

void InodeTable::EnableHandles(size_t capacity) {
  std::lock_guard lock(fd_mu_);
  capacity_ = std::max<size_t>(capacity, 1);
}

std::optional<LowerHandle> InodeTable::MakeHandle(int fd, const struct stat& st) {
  LowerHandle h;
  h.bytes.resize(sizeof(file_handle) + MAX_HANDLE_SZ);
  AsHandle(h.bytes)->handle_bytes = MAX_HANDLE_SZ;
  int mount_id = -1;
  if (name_to_handle_at(fd, "", AsHandle(h.bytes), &mount_id, AT_EMPTY_PATH) != 0) {
    return std::nullopt;  // EOPNOTSUPP: the file system has no handles; the Inode is pinned
  }
  h.bytes.resize(sizeof(file_handle) + AsHandle(h.bytes)->handle_bytes);
  {
    std::lock_guard lock(mounts_mu_);
    auto it = mounts_.find(mount_id);
    if (it != mounts_.end()) {
      if (!it->second.fd) return std::nullopt;
      h.mount = it->second.fd;
      return h;
    }
  }
  // A mount not seen yet: its first object reached is its root directory, whose open descriptor
  // serves as the mount's for open_by_handle_at (which takes no O_PATH descriptor). Whether the
  // file system decodes its own handles (overlayfs without nfs_export does not) is tried once.
  if (!S_ISDIR(st.st_mode)) return std::nullopt;
  auto mfd = std::make_shared<const Fd>(openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  bool usable = false;
  if (*mfd) {
    Fd probe(open_by_handle_at(mfd->get(), AsHandle(h.bytes), O_PATH | O_CLOEXEC));
    usable = probe && SameObject(probe.get(), {static_cast<uint64_t>(st.st_dev),
                                               static_cast<uint64_t>(st.st_ino)});
  } else {
    NoteDescriptorError(errno, "mount_fd");
    return std::nullopt;  // not recorded: tried again with the next directory
  }
  std::lock_guard lock(mounts_mu_);
  auto [it, fresh] = mounts_.emplace(mount_id, MountEntry{usable ? mfd : nullptr});
  if (fresh) {
    spdlog::info("event=lower_mount mount_id={} file_handles={}", mount_id, usable);
  }
  if (!it->second.fd) return std::nullopt;
  h.mount = it->second.fd;
  return h;
}

Inode* InodeTable::Intern(Fd fd, const struct stat& st, const Inode* parent,
                          std::string_view name) {
  InodeKey key{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
  auto known = [&]() -> Inode* {
    auto it = map_.find(key);
    if (it == map_.end()) return nullptr;
    Inode* inode = it->second.get();
    ++inode->nlookup;
    if (parent != nullptr) AddNameLocked(inode, parent->key, name);
    return inode;  // fd (a duplicate) is closed on return
  };
  {
    std::lock_guard lock(mu_);
    if (Inode* inode = known()) return inode;
  }
  bool handles;
  {
    std::lock_guard lock(fd_mu_);
    handles = capacity_ != 0;
  }
  // Outside the lock (system calls); a concurrent Intern of the same object may win the race.
  std::optional<LowerHandle> handle;
  if (handles) handle = MakeHandle(fd.get(), st);
  auto fresh = std::make_unique<Inode>();
  fresh->key = key;
  fresh->type = st.st_mode & S_IFMT;
  auto shared = std::make_shared<const Fd>(std::move(fd));
  fresh->fd_weak = shared;
  std::vector<std::shared_ptr<const Fd>> closed;
  std::lock_guard lock(mu_);
  if (Inode* inode = known()) return inode;
  Inode* inode = fresh.get();
  if (handle) {
    inode->handle = std::move(handle);
    std::lock_guard flock(fd_mu_);
    TouchLocked(*inode, shared, &closed);
  } else {
    inode->pinned = shared;
    ++pinned_;
  }
  map_.emplace(key, std::move(fresh));
  ++inode->nlookup;
  if (parent != nullptr) AddNameLocked(inode, parent->key, name);
  return inode;
}

void InodeTable::TouchLocked(const Inode& inode, const std::shared_ptr<const Fd>& fd,
                             std::vector<std::shared_ptr<const Fd>>* closed) {
  if (!inode.handle) return;  // pinned
  if (inode.in_lru) {
    lru_.splice(lru_.begin(), lru_, inode.lru_it);
    return;
  }
  lru_.push_front(&inode);
  inode.lru_it = lru_.begin();
  inode.in_lru = true;
  inode.lru_ref = fd;
  ShrinkLocked(capacity_, closed);
}

void InodeTable::ShrinkLocked(size_t keep, std::vector<std::shared_ptr<const Fd>>* closed) {
  while (lru_.size() > keep) {
    const Inode* victim = lru_.back();
    lru_.pop_back();
    victim->in_lru = false;
    closed->push_back(std::move(victim->lru_ref));  // still open while leased elsewhere
  }
}

PathFd InodeTable::Lower(const Inode& inode) {
  PathFd out;
  std::vector<std::shared_ptr<const Fd>> closed;
  {
    std::lock_guard lock(fd_mu_);
    if (auto fd = inode.fd_weak.lock()) {
      TouchLocked(inode, fd, &closed);
      out.fd_ = std::move(fd);
      return out;
    }
  }
  if (!inode.handle) {  // a pinned descriptor is never closed while the Inode lives
    out.err_ = EBADF;
    return out;
  }
  std::vector<unsigned char> bytes = inode.handle->bytes;  // open_by_handle_at takes it non-const
  // Short of descriptors: the older half of the cache (those not leased) is closed first.
  Fd fd(OpenShedding(
      [&] {
        return open_by_handle_at(inode.handle->mount->get(), AsHandle(bytes), O_PATH | O_CLOEXEC);
      },
      "reopen_inode"));
  if (!fd) {
    out.err_ = errno == ESTALE ? ENOENT : errno;  // deleted and gone from the lower tree
    return out;
  }
  // The handle names the inode and its generation; checked again, so that nothing but the
  // object looked up is ever served.
  if (!SameObject(fd.get(), inode.key)) {
    out.err_ = ENOENT;
    return out;
  }
  std::lock_guard lock(fd_mu_);
  auto shared = inode.fd_weak.lock();
  if (!shared) {  // else a concurrent Lower() reopened it first; ours is closed
    shared = std::make_shared<const Fd>(std::move(fd));
    inode.fd_weak = shared;
  }
  TouchLocked(inode, shared, &closed);
  out.fd_ = std::move(shared);
  return out;
}

void InodeTable::ShedDescriptors() {
  std::vector<std::shared_ptr<const Fd>> closed;  // closed after the lock is released
  std::lock_guard lock(fd_mu_);
  // A descriptor that an operation or an open file also leases stays open whatever the LRU does:
  // shedding its entry frees nothing now (it is closed when the lease ends). Counting those in
  // "half" once left nothing closed while 200 open files leased theirs, and lookups failed with
  // EMFILE. So every leased entry leaves the LRU, and the older half of the others are closed.
  size_t unleased = 0;
  for (const Inode* inode : lru_) {
    if (inode->lru_ref.use_count() == 1) ++unleased;
  }
  size_t to_close = (unleased + 1) / 2;
  for (auto it = lru_.end(); it != lru_.begin();) {
    --it;
    const Inode* inode = *it;
    const bool leased = inode->lru_ref.use_count() > 1;
    if (!leased) {
      if (to_close == 0) continue;
      --to_close;
    }
    inode->in_lru = false;
    closed.push_back(std::move(inode->lru_ref));
    it = lru_.erase(it);
  }
}

void InodeTable::NoteDescriptorError(int err, std::string_view what) {
  if (err != EMFILE && err != ENFILE) return;
  static std::atomic<int64_t> last{0};
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::steady_clock::now().time_since_epoch())
                    .count();
  int64_t prev = last.load();
  if (prev != 0 && now - prev < 10) return;
  if (!last.compare_exchange_strong(prev, now)) return;
  FdStats s = fd_stats();
  spdlog::warn(
      "event=descriptors_short what={} err={} cached={} capacity={} pinned={} "
      "hint=\"raise the daemon's RLIMIT_NOFILE (LimitNOFILE=)\"",
      what, err == EMFILE ? "EMFILE" : "ENFILE", s.cached, s.capacity, s.pinned);
}

InodeTable::FdStats InodeTable::fd_stats() {
  FdStats s;
  s.pinned = pinned_.load();
  std::lock_guard lock(fd_mu_);
  s.cached = lru_.size();
  s.capacity = capacity_;
  return s;
}

void InodeTable::AddNameLocked(Inode* inode, const InodeKey& parent, std::string_view name) {
  if (inode == root_) return;
  for (const auto& n : inode->names) {
    if (n.parent == parent && n.name == name) return;
  }
  if (inode->names.size() >= kMaxNames) {
    inode->names_unknown = true;
    return;
  }
  inode->names.push_back(Inode::Name{parent, std::string(name)});
}

void InodeTable::Linked(const InodeKey& key, const Inode* parent, std::string_view name) {
  std::lock_guard lock(mu_);
  auto it = map_.find(key);
  if (it != map_.end()) AddNameLocked(it->second.get(), parent->key, name);
}

void InodeTable::Forget(Inode* inode, uint64_t n) {
  std::unique_ptr<Inode> doomed;  // destroyed (fd closed) after the locks are released
  std::shared_ptr<const Fd> lru_ref;
  {
    std::lock_guard lock(mu_);
    if (inode == root_) return;
    if (n >= inode->nlookup) {
      auto it = map_.find(inode->key);
      if (it != map_.end() && it->second.get() == inode) {
        doomed = std::move(it->second);
        map_.erase(it);
        if (doomed->pinned) --pinned_;
        std::lock_guard flock(fd_mu_);
        if (doomed->in_lru) {
          lru_.erase(doomed->lru_it);
          doomed->in_lru = false;
          lru_ref = std::move(doomed->lru_ref);
        }
      }
    } else {
      inode->nlookup -= n;
    }
  }
}

Inode* InodeTable::Find(const InodeKey& key) {
  std::lock_guard lock(mu_);
  auto it = map_.find(key);
  return it == map_.end() ? nullptr : it->second.get();
}

void InodeTable::ForEachInode(const std::function<void(Inode*)>& fn) {
  std::lock_guard lock(mu_);
  fn(root_);
  for (auto& [key, inode] : map_) {
    if (inode.get() != root_) fn(inode.get());
  }
}

bool InodeTable::WithInode(const InodeKey& key, const std::function<void(Inode*)>& fn) {
  std::lock_guard lock(mu_);
  auto it = map_.find(key);
  if (it == map_.end()) return false;
  fn(it->second.get());
  return true;
}

void InodeTable::Moved(const InodeKey& key, const Inode* oldparent, std::string_view oldname,
                       const Inode* newparent, std::string_view newname) {
  std::lock_guard lock(mu_);
  auto it = map_.find(key);
  if (it == map_.end()) return;
  Inode* inode = it->second.get();
  std::erase_if(inode->names, [&](const Inode::Name& n) {
    return n.parent == oldparent->key && n.name == oldname;
  });
  AddNameLocked(inode, newparent->key, newname);
}

void InodeTable::Unlinked(const InodeKey& key, const Inode* parent, std::string_view name) {
  std::lock_guard lock(mu_);
  auto it = map_.find(key);
  if (it == map_.end()) return;
  std::erase_if(it->second->names,
                [&](const Inode::Name& n) { return n.parent == parent->key && n.name == name; });
}

bool InodeTable::KernelPath(int fd, std::string* out) {
  char buf[PATH_MAX + 1];
  ssize_t n = CwdPath(fd, buf, sizeof buf);
  if (n == kNoCwdPath) {
    // Relative to /proc/self/fd when the serving process gave it: no walk of "/proc/self/fd".
    char link[32];
    if (proc_fd_ >= 0) {
      snprintf(link, sizeof link, "%d", fd);
    } else {
      snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    }
    n = readlinkat(proc_fd_ >= 0 ? proc_fd_ : AT_FDCWD, link, buf, sizeof buf);
    if (n < 0) return false;  // errno from readlinkat (ENAMETOOLONG for a path over PATH_MAX)
    if (static_cast<size_t>(n) >= sizeof buf) {
      errno = ENAMETOOLONG;
      return false;
    }
  } else if (n < 0) {
    return false;  // errno from getcwd: ENOENT (deleted), ENAMETOOLONG
  }
  if (n == 0 || buf[0] != '/') {
    errno = ENOENT;
    return false;
  }
  out->assign(buf, static_cast<size_t>(n));
  return true;
}

bool InodeTable::LongKernelPath(int fd, std::string* out, int depth) {
  if (depth >= kMaxWalkUp) return false;
  struct stat st;
  if (fstat(fd, &st) != 0) return false;
  Fd parent(openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!parent) return false;
  struct stat pst;
  if (fstat(parent.get(), &pst) != 0 || (pst.st_dev == st.st_dev && pst.st_ino == st.st_ino)) {
    return false;  // the file system's root: nothing above it
  }
  // The directory's name in its parent: the entry with its inode number that still leads to it.
  std::string name;
  {
    int dfd = dup(parent.get());
    if (dfd < 0) return false;
    DIR* dp = fdopendir(dfd);
    if (dp == nullptr) {
      close(dfd);
      return false;
    }
    while (struct dirent* e = readdir(dp)) {
      if (e->d_ino != st.st_ino || strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
        continue;
      }
      struct stat cst;
      if (fstatat(parent.get(), e->d_name, &cst, AT_SYMLINK_NOFOLLOW) == 0 &&
          cst.st_dev == st.st_dev && cst.st_ino == st.st_ino) {
        name = e->d_name;
        break;
      }
    }
    closedir(dp);
  }
  if (name.empty()) return false;
  std::string above;
  if (!KernelPath(parent.get(), &above)) {
    if (errno != ENAMETOOLONG || !LongKernelPath(parent.get(), &above, depth + 1)) return false;
  }
  *out = (above == "/" ? std::string() : above) + "/" + name;
  return true;
}

bool InodeTable::DirPath(const PathFd& fd, std::string* out) {
  std::string dir;
  if (!KernelPath(fd.get(), &dir)) {
    // A directory deeper than PATH_MAX: its path is built by walking up.
    if (errno != ENAMETOOLONG || !LongKernelPath(fd.get(), &dir)) return false;
  }
  // The kernel marks an unlinked directory's path; such a directory has no path (strict even for
  // a directory really named so).
  static constexpr std::string_view kDeleted = " (deleted)";
  if (dir.size() >= kDeleted.size() &&
      dir.compare(dir.size() - kDeleted.size(), kDeleted.size(), kDeleted) == 0) {
    return false;
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::string root;
    {
      std::lock_guard lock(root_path_mu_);
      root = root_path_;
    }
    if (root.empty() || attempt == 1) {
      // The root's path, read again when a directory is not beneath the cached one (the lower
      // root itself may have been moved).
      if (!KernelPath(root_->pinned->get(), &root)) return false;
      std::lock_guard lock(root_path_mu_);
      root_path_ = root;
    }
    if (root == "/") {
      *out = dir == "/" ? std::string() : dir;
      return true;
    }
    if (dir == root) {
      out->clear();
      return true;
    }
    if (dir.size() > root.size() && dir.compare(0, root.size(), root) == 0 &&
        dir[root.size()] == '/') {
      *out = dir.substr(root.size());
      return true;
    }
  }
  return false;  // moved out of the lower tree
}

InodeTable::PathSet InodeTable::Paths(const Inode* inode) {
  PathSet set;
  if (inode == root_) {
    set.paths.emplace_back("/");
    return set;
  }
  // The names and a lease on each parent's descriptor, taken under the lock (the parents may be
  // forgotten once it is released); the paths are then read outside it.
  struct Candidate {
    PathFd parent;
    std::string name;
  };
  std::vector<Candidate> cands;
  {
    std::lock_guard lock(mu_);
    set.complete = !inode->names_unknown;
    for (const auto& n : inode->names) {
      auto it = map_.find(n.parent);
      if (it == map_.end()) {
        set.complete = false;
        continue;
      }
      PathFd pfd = Lower(*it->second);
      if (!pfd) {
        set.complete = false;
        continue;
      }
      cands.push_back(Candidate{std::move(pfd), n.name});
    }
  }
  std::vector<std::string> stale;
  size_t verified = 0;
  nlink_t nlink = 0;
  for (const auto& c : cands) {
    std::string dir;
    if (!DirPath(c.parent, &dir)) {
      set.complete = false;
      continue;
    }
    std::string path = dir + "/" + c.name;
    struct stat st;
    bool leads = fstatat(c.parent.get(), c.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                 static_cast<uint64_t>(st.st_dev) == inode->key.dev &&
                 static_cast<uint64_t>(st.st_ino) == inode->key.ino;
    auto& list = leads ? set.paths : stale;
    if (std::find(list.begin(), list.end(), path) != list.end()) continue;
    if (leads) {
      ++verified;
      nlink = st.st_nlink;
      if (!set.have_st) {
        set.have_st = true;
        set.st = st;
      }
    }
    list.push_back(std::move(path));
  }
  if (!stale.empty()) {
    // A known name that no longer leads here: the inode was renamed or unlinked beneath the mount,
    // and the kernel may still reach it by that name. Only a single-link file with a verified name
    // has certainly no other path.
    if (verified == 1 && nlink == 1 && !S_ISDIR(inode->type)) return set;  // its only path
    set.complete = false;
    for (auto& p : stale) {
      if (std::find(set.paths.begin(), set.paths.end(), p) == set.paths.end()) {
        set.paths.push_back(std::move(p));
      }
    }
  }
  return set;
}

std::optional<std::string> InodeTable::PathOf(const Inode* inode) {
  PathSet set = Paths(inode);
  if (set.paths.empty()) return std::nullopt;
  return std::move(set.paths.front());
}

size_t InodeTable::size() {
  std::lock_guard lock(mu_);
  return map_.size();
}

}  // namespace dfs::fs
