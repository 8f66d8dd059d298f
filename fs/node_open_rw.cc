// fs/node_open_rw.cc: regular file handles: open, create, read, write, flush, release, fsync,
// fallocate, copy_file_range, lseek. The Gate hooks for opens and content changes live here.
#include <fcntl.h>
#include <linux/openat2.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/byte_buffer.h"
#include "common/log.h"
#include "fs/creds.h"
#include "fs/kernel_passthrough.h"
#include "fs/passthrough.h"
#include "policy/enforcer.h"

namespace dfs::fs {

namespace {

// The calling thread's buffer for the bytes of a read it serves from the lower file (READ served
// from a buffer, verify=blocks reads, prefill): one per thread, used by one request at a time,
// grown as needed and never zeroed (only the bytes read are served). Passthrough::PrepareThread
// faults it in on the session thread.
thread_local ByteBuffer t_read_buf;

// Whether task `tid` is being killed: SIGKILL pending for it or its thread group (a fatal signal
// is turned into SIGKILL by the kernel), or it is gone or a zombie already. Read from
// /proc/TID/status; called only once the kernel has sent INTERRUPT for a request of the task.
bool OpenerIsDying(uint32_t tid) {
  std::string path = "/proc/" + std::to_string(tid) + "/status";
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return errno == ENOENT || errno == ESRCH;
  char buf[4096];
  ssize_t n = ::read(fd.get(), buf, sizeof buf - 1);
  if (n <= 0) return true;
  buf[n] = 0;
  std::string_view text(buf, static_cast<size_t>(n));
  constexpr unsigned long long kSigkillBit = 1ull << (SIGKILL - 1);
  for (std::string_view key : {"SigPnd:", "ShdPnd:"}) {
    size_t at = text.find(key);
    if (at == std::string_view::npos) continue;
    unsigned long long mask = std::strtoull(buf + at + key.size(), nullptr, 16);
    if (mask & kSigkillBit) return true;
  }
  size_t st = text.find("State:");
  if (st != std::string_view::npos) {
    size_t c = text.find_first_not_of(" \t", st + 6);
    if (c != std::string_view::npos && (text[c] == 'Z' || text[c] == 'X')) return true;
  }
  return false;
}

// The kernel marks opens made by execve() with __FMODE_EXEC; it is not a flag the lower open takes.
constexpr int kFmodeExec = 0x20;

// Largest read served on the session thread when the lower page cache does not hold it.
constexpr size_t kInlineReadMax = 128 * 1024;
// Verified reads up to this size are served on the session thread even when other requests wait,
// if the lower file has their blocks cached (read()). It is above max_write (1 MiB, which bounds
// READs too): the GMAC of 1 MiB takes ~0.15 ms, and a cold start's readahead sends READs in
// parallel, so a hand-off of each one to a worker cost more (python3 -c 1 on a fresh mount: 95 ms
// with a 256 KiB limit, 82 ms without; threads=0: 78 ms).
constexpr size_t kInlineVerifiedReadMax = 2 * 1024 * 1024;

FileHandle* Handle(fuse_file_info* fi) { return reinterpret_cast<FileHandle*>(fi->fh); }

bool Writable(int flags) { return (flags & O_ACCMODE) != O_RDONLY; }

// Flags for opening the lower file: the caller's, without those that only make sense to the kernel
// (O_DIRECT: the kernel already bypasses its cache for such an opener; our lower I/O is buffered),
// and without O_TRUNC: FinishOpen truncates only once the Gate has allowed the open.
int LowerFlags(int flags) {
  return flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_DIRECT | kFmodeExec | O_NOFOLLOW | O_TRUNC);
}

bool SameStamp(const Inode& i, const struct stat& st) {
  return i.stamp_valid && i.stamp_size == st.st_size && i.stamp_mtime.tv_sec == st.st_mtim.tv_sec &&
         i.stamp_mtime.tv_nsec == st.st_mtim.tv_nsec && i.stamp_ctime.tv_sec == st.st_ctim.tv_sec &&
         i.stamp_ctime.tv_nsec == st.st_ctim.tv_nsec;
}

void SetStamp(Inode& i, const struct stat& st) {
  i.stamp_valid = true;
  i.stamp_size = st.st_size;
  i.stamp_mtime = st.st_mtim;
  i.stamp_ctime = st.st_ctim;
}

// Truncates the file just opened with O_TRUNC (after the Gate allowed it). 0 or an errno. The
// truncation runs with the caller's credentials, so that a caller without CAP_FSETID loses the
// file's setuid/setgid bits exactly as natively (the kernel sends no SETATTR for an O_TRUNC open).
int Truncate(fuse_req_t req, Passthrough& fs, Inode& inode, int fd, bool writer) {
  Fd wfd;
  if (!writer) {
    // O_RDONLY|O_TRUNC truncates on Linux (the kernel has checked write permission).
    int w = fs.Reopen(inode, O_WRONLY);
    if (w < 0) return -w;
    wfd.reset(w);
    fd = wfd.get();
  }
  int err = 0;
  {
    ScopedCreds creds(req);
    if (creds.error() != 0) return creds.error();
    if (ftruncate(fd, 0) != 0) err = errno;
  }
  if (err != 0) return err;
  fs.Changed(inode);
  return 0;
}

// Registers the inode's backing file for kernel passthrough (inode.mu held, no open files). The
// kernel uses the registered file only for its path and the daemon's credentials: every open
// through the mount gets its own lower file, opened by the kernel with that opener's flags. So
// the inode's O_PATH descriptor is registered as it is (no lower open, no side effects on the
// lower file); kernels that want an opened file get a read-only one. False if the kernel refuses
// (the inode is then served through the page cache).
bool RegisterBacking(Passthrough& fs, Inode& inode) {
  PathFd pfd = fs.Lower(inode);
  if (!pfd) return false;
  Result<int32_t> id = fs.kernel().OpenBacking(pfd.get());
  if (!id.ok() && id.status().sys_errno() == EBADF) {
    Fd ro(fs.Reopen(inode, O_RDONLY));
    if (ro) id = fs.kernel().OpenBacking(ro.get());
  }
  if (!id.ok()) {
    spdlog::debug("event=passthrough_unavailable inode={} status={}", inode.key.ino,
                  id.status().ToString());
    return false;
  }
  inode.backing_id = *id;
  inode.passthrough_io = true;
  return true;
}

// Drops the inode's backing file after its last close (inode.mu held). The kernel let go of the
// inode's passthrough mode before it sent the RELEASE of the last file.
void DropBacking(Passthrough& fs, Inode& inode) {
  if (inode.backing_id >= 0) fs.kernel().CloseBacking(inode.backing_id);
  inode.backing_id = -1;
  inode.passthrough_io = false;
}

// The lower descriptor behind a handle. A reader (lazy_flags >= 0) has none until an operation
// that reaches the daemon needs one (a read that misses the page cache, fsync, lseek,
// copy_file_range source): it is opened then, with the open's flags, through the inode's O_PATH
// handle (so always the opened inode). Returns -1 (errno set) if that open fails.
int HandleFd(Passthrough& fs, FileHandle& fh) {
  if (fh.lazy_flags < 0) return fh.fd.get();  // set before the handle was published
  std::lock_guard lock(fh.lazy_mu);
  if (!fh.fd) {
    int fd = fs.Reopen(*fh.inode, fh.lazy_flags);
    if (fd < 0) {
      errno = -fd;
      return -1;
    }
    fh.fd.reset(fd);
    fh.inode_fd = PathFd();  // the lower file now keeps the inode alive
  }
  return fh.fd.get();
}

// A readable descriptor of the handle's lower file for the Gate's ticket (verify=blocks: a read
// covering part of a block reads the whole block again): a duplicate of the reader's own lower
// file once it is open (it reaches the inode even after an unlink), else a fresh open of the inode.
Result<Fd> TicketReopen(Passthrough& fs, FileHandle& fh) {
  {
    std::lock_guard lock(fh.lazy_mu);
    if (fh.fd && fh.lazy_flags >= 0 && !(fh.lazy_flags & O_DIRECT)) {
      int dup = fcntl(fh.fd.get(), F_DUPFD_CLOEXEC, 0);
      if (dup >= 0) return Fd(dup);
    }
  }
  int rfd = fs.Reopen(*fh.inode, O_RDONLY);
  if (rfd < 0) return Status::FromErrno(-rfd, "reopening for hashing");
  return Fd(rfd);
}

// Records the lower file's size and times (inode.mu held); true if they differ from what the
// kernel was last told, so it must fetch the attributes again before it serves the file.
bool AttrChanged(Inode& inode, const struct stat& st) {
  bool same = inode.attr_valid && inode.attr_size == st.st_size &&
              inode.attr_mtime.tv_sec == st.st_mtim.tv_sec &&
              inode.attr_mtime.tv_nsec == st.st_mtim.tv_nsec &&
              inode.attr_ctime.tv_sec == st.st_ctim.tv_sec &&
              inode.attr_ctime.tv_nsec == st.st_ctim.tv_nsec;
  if (!same) {
    inode.attr_valid = true;  // the kernel's next GETATTR will see these
    inode.attr_size = st.st_size;
    inode.attr_mtime = st.st_mtim;
    inode.attr_ctime = st.st_ctim;
  }
  return !same;
}

// verify=blocks: decides how an open served through the page cache uses it (inode.mu held).
// Every READ the kernel sends for a block-checked handle is a page fill from the lower file,
// checked against the block digests of the open's verdict before it is answered (ServeRead), so
// the pages such handles fill are verified bytes and page-cache hits need no check. The kernel
// keeps its pages across this open (keep_cache) only if the lower file's stamp is the one they
// were filled under (a re-decided verdict drops them) and no unchecked handle may have filled
// any. While unchecked handles (writers, opens the policy does not appraise) are open, a
// block-checked open is direct_io (its reads bypass pages they filled), and an unchecked open
// made while block-checked handles are open is direct_io too (its read(2)s fill no page they
// could read, and its writes drop the pages they cover). But the page cache is the inode's: a
// private mapping of a direct_io file is filled through it, and so is every read of a handle
// opened before. So while block-checked handles are open, every READ of any handle of the inode
// is checked against the digests of each of them (inode.checked_versions, FillTickets), its own
// and those of block-checked opens decided on another version of the file alike: a mismatch is
// EIO for that reader, never a page another open could be served.
void CachePagesChecked(Gate& gate, Inode& inode, FileHandle& fh, const struct stat& st,
                       fuse_file_info* fi) {
  if (fh.ticket.blocks != nullptr) {
    fh.checked = true;
    fh.checked_key = gate.TicketDigests(fh.ticket);
    ++inode.checked_open;
    bool known = false;
    for (Inode::CheckedVersion& v : inode.checked_versions) {
      if (v.key == fh.checked_key) {
        ++v.opens;
        known = true;
        break;
      }
    }
    if (!known) inode.checked_versions.push_back({fh.checked_key, 1, fh.ticket.blocks});
    if (inode.unchecked_open > 0) {
      fi->direct_io = 1;
      fi->keep_cache = 0;
    } else if (SameStamp(inode, st) && !inode.cache_unchecked) {
      fi->keep_cache = 1;
    } else {
      fi->keep_cache = 0;  // the kernel drops every page it cached for the inode
      SetStamp(inode, st);
      inode.cache_unchecked = false;
    }
    return;
  }
  fh.unchecked = true;
  ++inode.unchecked_open;
  inode.cache_unchecked = true;  // a direct_io file's private mapping still fills pages
  if (inode.checked_open > 0) {
    // Neither its reads nor its writes go through the pages block-checked readers are served
    // from (the kernel drops the cached pages a direct write covers).
    fi->direct_io = 1;
    return;
  }
  if (SameStamp(inode, st)) {
    fi->keep_cache = 1;
  } else {
    fi->keep_cache = 0;
    SetStamp(inode, st);
  }
}

// Finishes an open of `inode` whose lower file is `fd` (taken, opened without O_TRUNC; empty for
// a reader, whose lower file HandleFd opens when a read misses the page cache): asks the Gate, then
// applies O_TRUNC, tracks writers, decides whether the kernel may keep its cached pages, and fills
// fi. 0 or an errno; on an error nothing was changed.
// FinishOpen's answer when `inline_only` and the Gate cannot decide without blocking.
constexpr int kNotInline = -1;

int FinishOpen(fuse_req_t req, Passthrough& fs, Inode& inode, Fd fd, int flags, fuse_file_info* fi,
               bool* inval_attr, bool inline_only = false, bool may_prefill = false) {
  auto fh = std::make_unique<FileHandle>();
  fh->inode = &inode;
  fh->writer = Writable(flags);
  fh->uid = fuse_req_ctx(req)->uid;
  fh->inode_fd = fs.Lower(inode);
  if (!fh->inode_fd) return fh->inode_fd.error();
  // Every known name of the inode, for the Gate: the Gate decides on the strictest. With a name
  // possibly unknown, the request's path stays empty (the Gate then decides as strictly as any
  // path could).
  InodeTable::PathSet names;
  if (fs.gate() != nullptr) names = fs.inodes().Paths(&inode);
  struct stat st;
  if (names.have_st) {
    st = names.st;  // the inode's own attributes, found by a verified name: no fstat needed
  } else if (fstat(fd ? fd.get() : fh->inode_fd.get(), &st) != 0) {
    return errno;
  }
  if (Gate* gate = fs.gate()) {
    {
      // A writer's close that the kernel sent before this open is decided first (WriterClosed
      // may re-trust the file this open reads).
      std::unique_lock lock(inode.mu);
      // Nor does the session thread wait for another open's prefill (Prefill) of the inode.
      if (inline_only && (inode.closing != 0 || inode.prefilling)) return kNotInline;
      inode.closed_cv.wait(lock, [&inode] { return inode.closing == 0; });
    }
    OpenRequest r;
    r.fd = fd.get();
    r.st = st;
    size_t first = 0;
    if (names.complete && !names.paths.empty()) {
      r.path = std::move(names.paths.front());
      first = 1;
    }
    for (size_t i = first; i < names.paths.size(); ++i) {
      r.aliases.push_back(std::move(names.paths[i]));
    }
    r.flags = flags;
    r.op = (flags & kFmodeExec) ? AccessOp::kExec : fh->writer ? AccessOp::kWrite : AccessOp::kRead;
    const fuse_ctx* ctx = fuse_req_ctx(req);
    r.uid = ctx->uid;
    r.gid = ctx->gid;
    r.pid = static_cast<uint32_t>(ctx->pid);
    // Kept by the ticket until the release (verify=blocks); the handle outlives its ticket.
    FileHandle* fhp = fh.get();
    r.reopen_readonly = [&fs, fhp]() -> Result<Fd> { return TicketReopen(fs, *fhp); };
    // FUSE INTERRUPT: the opener was signalled while its open is being decided. Only a dying
    // opener gives up its hash: the kernel also interrupts for signals the task handles and then
    // restarts or continues (runc's init is signalled while it execs), and an EINTR there made
    // execve fail with EIO (integ_enforce_runc and integ_enforce_podman failed so).
    r.interrupted = [req, pid = r.pid] {
      return fuse_req_interrupted(req) != 0 && OpenerIsDying(pid);
    };
    Status s;
    if (inline_only) {
      r.idle = [&fs] { return !fs.RequestsPending(); };
      if (!gate->TryCheckOpenInline(r, &fh->ticket, &s)) return kNotInline;
    } else {
      s = gate->CheckOpen(r, &fh->ticket);
    }
    if (!s.ok()) {
      spdlog::debug("event=open_refused path={} aliases={} status={}", LogQuote(r.path),
                    r.aliases.size(), s.ToString());
      return s.code() == Code::kPermissionDenied ? EACCES : (s.ToErrno() ? s.ToErrno() : EIO);
    }
  }
  if (flags & O_TRUNC) {
    if (int err = Truncate(req, fs, inode, fd.get(), fh->writer); err != 0) return err;
    if (fstat(fd.get(), &st) != 0) return errno;
  }
  {
    std::unique_lock lock(inode.mu);
    // An open pushing the file's bytes into the kernel's page cache finishes first (Prefill).
    inode.closed_cv.wait(lock, [&inode] { return !inode.prefilling; });
    if (fs.gate() != nullptr && !fh->writer && inode.writers > 0) {
      // Like IMA's open_writers violation: what this opener reads may change under it (writes,
      // or dirty pages of a shared writable mapping that the Gate has not seen yet).
      spdlog::warn("event=open_writers inode={} writers={} exec={}", inode.key.ino, inode.writers,
                   (flags & kFmodeExec) != 0);
    }
    // The I/O mode is the inode's while it has open files (kernel_passthrough.h): an open that
    // comes here while the inode is in passthrough (a create of a file open elsewhere) joins it.
    if (inode.passthrough_io) fh->backing_id = inode.backing_id;
    ++inode.open_files;
    if (fh->writer) ++inode.writers;
    const bool blocks_mode = fs.gate() != nullptr && fs.gate()->verify_blocks();
    if (fh->backing_id >= 0) {
      // Passthrough writes bypass the FUSE page cache: whatever it still holds of this inode
      // must not be kept by a later page-cache open.
      if (fh->writer) inode.stamp_valid = false;
    } else if (blocks_mode) {
      CachePagesChecked(*fs.gate(), inode, *fh, st, fi);
    } else if (SameStamp(inode, st)) {
      // The kernel may keep the pages it cached for this inode only if the lower file is
      // unchanged since they were cached (a change beneath the mount, or a write through it,
      // drops them).
      fi->keep_cache = 1;
    } else {
      fi->keep_cache = 0;
      SetStamp(inode, st);
    }
    // The kernel's cached size/times may be stale (changed beneath the mount, or by writes the
    // kernel accounted itself): make it fetch them again before it serves the file.
    *inval_attr = AttrChanged(inode, st);
    // A small file whose cached pages the kernel is about to drop, opened by a reader while no
    // other file of the inode is open: the open fills them itself (Prefill) and lets the kernel
    // keep them, which saves the READ round trip that would follow.
    // Not when the kernel must fetch the attributes again (*inval_attr): it would find them
    // changed at the first read and drop the pages again.
    if (may_prefill && !fh->writer && !(flags & O_TRUNC) && fh->backing_id < 0 &&
        fi->keep_cache == 0 && fi->direct_io == 0 && !*inval_attr && inode.open_files == 1 &&
        S_ISREG(inode.type) && st.st_size > 0 &&
        static_cast<uint64_t>(st.st_size) <= fs.config().prefill_max) {
      inode.prefilling = true;
      fh->prefill = static_cast<size_t>(st.st_size);
      fh->prefill_inval = inode.pages_maybe;
    }
    if (fh->backing_id < 0) inode.pages_maybe = true;
  }
  fi->noflush = 1;  // nothing to do at close(2): every write reached the lower file already
  if (!fd) fh->lazy_flags = LowerFlags(flags);
  fh->fd = std::move(fd);
  if (fh->fd) fh->inode_fd = PathFd();  // the lower file keeps the inode alive
  PublishHandle(fi, std::move(fh));
  return 0;
}

// The lower file Prefill reads: the handle's own if it has one; else (a reader whose lower file
// is opened at its first read that misses the page cache, HandleFd) one opened for the prefill
// alone, into *own, so that a prefilled reader holds no lower descriptor, as a reader of cached
// pages does not. An open that fails (short of descriptors, say) gives up at once, without
// shedding the descriptors cached for other nodes: a prefill only saves a round trip. -1: none.
int PrefillFd(Passthrough& fs, FileHandle& fh, Fd* own) {
  if (fh.lazy_flags < 0) return fh.fd.get();
  std::lock_guard lock(fh.lazy_mu);
  if (fh.fd) return fh.fd.get();
  if (!fh.inode_fd) return -1;
  char name[16];
  snprintf(name, sizeof name, "%d", fh.inode_fd.get());
  own->reset(openat(fs.proc_self_fd(), name, (fh.lazy_flags & ~O_NOFOLLOW) | O_CLOEXEC));
  return *own ? own->get() : -1;
}

// Pushes the bytes of the file just opened into the kernel's page cache, as the READ its reader
// would send next would fill it, and lets the kernel keep them (fi->keep_cache), so that the read
// costs no round trip. FinishOpen chose the open (a reader of a small regular file, the only open
// file of the inode, whose cached pages the kernel would drop at this open) and set
// inode.prefilling, which keeps every other open of the inode from being answered meanwhile: the
// kernel locks each page it stores into, and with no other file of the inode open, no reader can
// hold one locked while it waits for a READ, so the store never waits for a request this thread
// might have to serve. The bytes are those a READ would return: with verify=blocks, checked
// against the block digests of this open's verdict. Only what the lower page cache holds is read
// (RWF_NOWAIT); if anything fails, the reply drops the kernel's pages as before (keep_cache 0).
// Where the verdict was just made on this thread by hashing the whole file in one read, the Gate
// lends those bytes (Gate::InlineHashedBytes) and the file is not read again.
void Prefill(Passthrough& fs, fuse_ino_t ino, FileHandle& fh, fuse_file_info* fi, size_t size) {
  Inode& inode = *fh.inode;
  // The other opens of the inode go on however this ends (an allocation that throws included).
  struct Done {
    Inode& inode;
    ~Done() {
      {
        std::lock_guard lock(inode.mu);
        inode.prefilling = false;
      }
      inode.closed_cv.notify_all();
    }
  } done{inode};
  bool ok = false;
  Gate* gate = fs.gate();
  // The bytes this thread's Gate just hashed to decide this open (a small file hashed on the
  // session thread), if they are the whole file as it is now: served as they are, with no open,
  // read or block check of the lower file (they are what the verdict and the block digests were
  // made from). The file is looked at through the handle's descriptor, or the node's O_PATH one.
  std::span<const uint8_t> hashed;
  int fd = -1;
  int stat_fd = -1;  // the descriptor `before` is the fstat of
  struct stat before;
  Fd own;
  if (gate != nullptr) {
    const int sfd = fh.fd ? fh.fd.get() : fh.inode_fd ? fh.inode_fd.get() : -1;
    if (sfd >= 0 && fstat(sfd, &before) == 0) {
      stat_fd = sfd;
      hashed = gate->InlineHashedBytes(before);
      if (hashed.size() == size) {
        fd = sfd;
      } else {
        hashed = {};
      }
    }
  }
  if (fd < 0) {
    fd = PrefillFd(fs, fh, &own);  // the handle's own file (looked at above), or one opened now
    if (fd >= 0 && fd != stat_fd && fstat(fd, &before) != 0) fd = -1;
  }
  // A lower file already changed since the open's stat is left to the READs (whose check then
  // reports it, once, for a read a process made).
  if (fd >= 0) {
    std::lock_guard lock(inode.mu);
    ok = SameStamp(inode, before);
  }
  if (ok) {
    ByteBuffer& buf = t_read_buf;
    const uint8_t* data = nullptr;
    size_t len = 0;
    if (!hashed.empty()) {
      data = hashed.data();
      len = hashed.size();
    } else if (gate != nullptr && fh.ticket.blocks != nullptr) {
      size_t start = 0;
      Status s = ReadVerified(*gate, fh.ticket, fd, 0, size, &buf, &start, &len, /*nowait=*/true);
      ok = s.ok() && len == size;
      data = buf.data() + start;
    } else {
      if (buf.size() < size) buf.resize(size);
      struct iovec iov = {buf.data(), size};
      ssize_t n = preadv2(fd, &iov, 1, 0, RWF_NOWAIT);
      ok = n >= 0 && static_cast<size_t>(n) == size;
      len = size;
      data = buf.data();
    }
    if (ok) {
      // Whatever the kernel may have cached of an earlier version goes first, as keep_cache 0
      // would drop it (this also makes the kernel fetch the attributes again, so it is skipped
      // for a node whose pages the kernel never cached).
      if (fh.prefill_inval) fuse_lowlevel_notify_inval_inode(fs.session(), ino, 0, 0);
      // From memory in one writev: libfuse would otherwise splice a store of 8 KiB or more
      // (vmsplice of the header, a write of the bytes into a pipe, a splice of the pipe to the
      // device), two more system calls and one more copy of the bytes.
      fuse_bufvec bv = FUSE_BUFVEC_INIT(len);
      bv.buf[0].mem = const_cast<uint8_t*>(data);
      ok = fuse_lowlevel_notify_store(fs.session(), ino, 0, &bv, FUSE_BUF_NO_SPLICE) == 0;
      // A change made meanwhile (a truncate or write through the mount, whose page drop may have
      // come before the store; a change beneath it) leaves the stamp FinishOpen set: the pages
      // go again.
      struct stat now;
      bool same = fstat(fd, &now) == 0;
      if (same) {
        std::lock_guard lock(inode.mu);
        same = SameStamp(inode, now);
      }
      if (!same) {
        fuse_lowlevel_notify_inval_inode(fs.session(), ino, 0, 0);
        ok = false;
      }
    }
  }
  fi->keep_cache = ok ? 1 : 0;
}

// Whether `path` (from the mount root) leads to the lower inode `key` now: walked beneath the
// lower root with openat2, no symlink followed (a name turned into a symlink since does not count).
bool PathLeadsTo(Passthrough& fs, const std::string& path, const InodeKey& key) {
  if (path.size() < 2 || path[0] != '/') return false;
  PathFd root = fs.Lower(fs.inodes().root());
  if (!root) return false;
  struct open_how how;
  std::memset(&how, 0, sizeof how);
  how.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  long rc;
  do {
    rc = ::syscall(SYS_openat2, root.get(), path.c_str() + 1, &how, sizeof how);
  } while (rc < 0 && errno == EINTR);
  Fd fd(rc >= 0 ? static_cast<int>(rc) : -1);
  struct stat st;
  if (!fd || fstat(fd.get(), &st) != 0) return false;
  return static_cast<uint64_t>(st.st_dev) == key.dev && static_cast<uint64_t>(st.st_ino) == key.ino;
}

// Accounts for the close of a handle taken back from the kernel, telling the Gate when its last
// writer closed. The caller frees the handle.
void CloseHandle(Passthrough& fs, FileHandle& h) {
  FileHandle* fh = &h;
  Inode& inode = *fh->inode;
  bool last_writer = false;
  struct stat st;
  bool have = fh->writer && fh->backing_id < 0 && fstat(fh->fd.get(), &st) == 0;
  {
    std::lock_guard lock(inode.mu);
    if (--inode.open_files == 0) DropBacking(fs, inode);
    if (fh->checked) {
      --inode.checked_open;
      auto& vs = inode.checked_versions;
      for (auto it = vs.begin(); it != vs.end(); ++it) {
        if (it->key == fh->checked_key) {
          if (--it->opens == 0) vs.erase(it);
          break;
        }
      }
    }
    if (fh->unchecked) --inode.unchecked_open;
    if (fh->writer) {
      last_writer = --inode.writers == 0;
      // The kernel's page cache saw every write made through this handle (no writeback cache);
      // a passthrough writer's went around it.
      if (last_writer && have) SetStamp(inode, st);
    }
  }
  if (last_writer && fs.gate() != nullptr) {
    Inode* ip = &inode;
    const std::string path = fs.PathOf(&inode);
    fs.gate()->WriterClosed(
        inode.key.dev, inode.key.ino, path,
        [&fs, ip]() -> Result<Fd> {
          int rfd = fs.Reopen(*ip, O_RDONLY);
          if (rfd < 0) return Status::FromErrno(-rfd, "reopening for hashing");
          return Fd(rfd);
        },
        [&fs, ip, &path] { return PathLeadsTo(fs, path, ip->key); });
  }
}

// Closes and frees a handle taken back from the kernel (AdoptHandle).
void ReleaseHandle(Passthrough& fs, std::unique_ptr<FileHandle> fh) { CloseHandle(fs, *fh); }

void ReplyOpen(fuse_req_t req, Passthrough& fs, fuse_ino_t ino, fuse_file_info* fi,
               bool inval_attr) {
  if (inval_attr) fuse_lowlevel_notify_inval_inode(fs.session(), ino, -1, 0);
  FileHandle* fh = Handle(fi);
  int rc = fh->backing_id >= 0
               ? KernelPassthrough::ReplyOpen(req, fi->fh, fh->backing_id, fi->noflush != 0)
               : fuse_reply_open(req, fi);
  if (rc == -ENOENT) {
    ReleaseHandle(fs, AdoptHandle<FileHandle>(fi));  // interrupted: the kernel never got it
  }
}

// Serves an open without a Gate in the kernel's passthrough (kernel_passthrough.h): the first
// open of an inode registers its backing file, the others share it. A reader needs no lower open
// of its own; a writer (or O_TRUNC) opens the lower file with its own flags, which both checks
// the open as natively (read-only file system, immutable or append-only file, a program running)
// and gives it its own descriptor (fsync, fallocate, truncate). Returns false without replying if
// the inode is served through the page cache; *lower then holds the writer's descriptor, if any.
bool ServePassthroughOpen(fuse_req_t req, Passthrough& fs, Inode& inode, fuse_ino_t ino,
                          fuse_file_info* fi, Fd* lower) {
  const int flags = fi->flags;
  if (fs.config().passthrough == PassthroughMode::kAuto) {
    // The common case, a small file not open in passthrough, leaves at once (the size and mode
    // are checked again below, under the lock, before anything is decided).
    std::lock_guard lock(inode.mu);
    if (!inode.passthrough_io &&
        (!inode.attr_valid || static_cast<uint64_t>(inode.attr_size) < kPassthroughMinSize)) {
      return false;
    }
  }
  auto fh = std::make_unique<FileHandle>();
  fh->inode = &inode;
  fh->writer = Writable(flags);
  fh->inode_fd = fs.Lower(inode);
  if (!fh->inode_fd) {
    fuse_reply_err(req, fh->inode_fd.error());
    return true;
  }
  if (fh->writer || (flags & O_TRUNC)) {
    int fd = fs.Reopen(inode, LowerFlags(flags));
    if (fd < 0) {
      fuse_reply_err(req, -fd);
      return true;
    }
    lower->reset(fd);
  }
  bool inval_attr = false;
  struct stat st;
  {
    std::lock_guard lock(inode.mu);
    if (inode.open_files == 0) {
      // passthrough=auto: by the size the kernel was last told (no lower call for small files).
      if (fs.config().passthrough == PassthroughMode::kAuto &&
          (!inode.attr_valid || static_cast<uint64_t>(inode.attr_size) < kPassthroughMinSize)) {
        return false;
      }
      if (!RegisterBacking(fs, inode)) return false;
    } else if (!inode.passthrough_io) {
      return false;
    }
    fh->backing_id = inode.backing_id;
    ++inode.open_files;
    if (fh->writer) {
      ++inode.writers;
      inode.stamp_valid = false;  // writes go around the FUSE page cache
    }
  }
  fh->fd = std::move(*lower);
  if (!fh->fd) fh->lazy_flags = LowerFlags(flags);  // a reader: HandleFd opens it on first need
  int err = 0;
  if (flags & O_TRUNC) err = Truncate(req, fs, inode, fh->fd.get(), fh->writer);
  if (err == 0 && fstat(fh->fd ? fh->fd.get() : fh->inode_fd.get(), &st) != 0) err = errno;
  if (err != 0) {
    CloseHandle(fs, *fh);
    fuse_reply_err(req, err);
    return true;
  }
  {
    std::lock_guard lock(inode.mu);
    inval_attr = AttrChanged(inode, st);
  }
  fi->noflush = 1;
  if (fh->fd) fh->inode_fd = PathFd();  // the lower file keeps the inode alive
  PublishHandle(fi, std::move(fh));
  ReplyOpen(req, fs, ino, fi, inval_attr);
  return true;
}

// Serves an open. With inline_only (a Gate, on the session thread), returns false without
// replying when the Gate cannot decide without blocking; the caller then serves it on a worker.
bool ServeOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi, bool inline_only = false) {
  Passthrough& fs = Passthrough::From(req);
  Inode& inode = fs.inode(ino);
  if (spdlog::should_log(spdlog::level::trace)) {
    spdlog::trace("event=open inode={} flags={:#o} exec={}", inode.key.ino, fi->flags,
                  (fi->flags & kFmodeExec) != 0);
  }
  Fd lower;
  if (fs.gate() == nullptr && fs.config().passthrough != PassthroughMode::kOff &&
      S_ISREG(inode.type) && fs.kernel().enabled() &&
      ServePassthroughOpen(req, fs, inode, ino, fi, &lower)) {
    return true;
  }
  // A reader's lower file is opened only when a read misses the kernel's page cache (HandleFd),
  // unless a Gate is about to hash it (a Gate decides on the session thread only what needs no
  // reading: inline_only), or the daemon's own open could fail later where the reader's could
  // not (Passthrough::lazy_readers).
  const bool lazy = fs.lazy_readers() && !Writable(fi->flags) && !(fi->flags & O_TRUNC) &&
                    (fs.gate() == nullptr || inline_only);
  if (!lower && !lazy) {
    int fd = fs.Reopen(inode, LowerFlags(fi->flags));
    if (fd < 0) {
      fuse_reply_err(req, -fd);
      return true;
    }
    lower.reset(fd);
  }
  bool inval_attr = false;
  int err = FinishOpen(req, fs, inode, std::move(lower), fi->flags, fi, &inval_attr, inline_only,
                       /*may_prefill=*/true);
  if (err == kNotInline) return false;
  if (err != 0) {
    fuse_reply_err(req, err);
    return true;
  }
  if (FileHandle* fh = Handle(fi); fh->prefill > 0) Prefill(fs, ino, *fh, fi, fh->prefill);
  ReplyOpen(req, fs, ino, fi, inval_attr);
  return true;
}

void open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Passthrough& fs = Passthrough::From(req);
  if (fs.gate() == nullptr) {
    ServeOpen(req, ino, fi);  // cheap: served on the session thread
    return;
  }
  // A read-only open with a valid cached verdict is decided at once, on this thread; one that
  // needs hashing, waiting or measuring goes to a worker.
  if (!(fi->flags & O_TRUNC) && !Writable(fi->flags) && ServeOpen(req, ino, fi, true)) return;
  fs.Offload(req, [req, ino, f = *fi]() mutable { ServeOpen(req, ino, &f); });
}

// Opens `name` in `parent` for a create as the caller. *created: whether this call made the file
// (so a refused open may remove it again). Without O_EXCL, tries an exclusive create first and
// opens an existing file otherwise (retrying if it vanishes in between). Returns the fd or -errno.
int CreateLower(fuse_req_t req, const PathFd& parent, const char* name, mode_t mode, int flags,
                bool* created) {
  ScopedCreds creds(req);
  if (creds.error() != 0) return -creds.error();
  ScopedUmask mask(req);
  if (mask.error() != 0) return -mask.error();
  int base = LowerFlags(flags) | O_NOFOLLOW | O_CLOEXEC;
  for (int attempt = 0; attempt < 8; ++attempt) {
    int fd = openat(parent.get(), name, base | O_CREAT | O_EXCL, mode);
    if (fd >= 0) {
      *created = true;
      return fd;
    }
    if (errno != EEXIST || (flags & O_EXCL)) return -errno;
    fd = openat(parent.get(), name, base);
    if (fd >= 0) {
      *created = false;
      return fd;
    }
    if (errno != ENOENT) return -errno;
  }
  return -EAGAIN;
}

int do_create(fuse_req_t req, Passthrough& fs, Inode& parent, const char* name, mode_t mode,
              fuse_file_info* fi, fuse_entry_param* e) {
  if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) return EINVAL;
  bool created = false;
  PathFd parent_fd = fs.Lower(parent);  // before the caller's credentials (needs capabilities)
  if (!parent_fd) return parent_fd.error();
  int rawfd = CreateLower(req, parent_fd, name, mode, fi->flags, &created);
  if (rawfd < 0) {
    fs.inodes().NoteDescriptorError(-rawfd, "create");
    return -rawfd;
  }
  Fd fd(rawfd);
  // Register exactly the inode just opened (not whatever the name points to now).
  char num[16];
  snprintf(num, sizeof num, "%d", fd.get());
  Fd pfd(openat(fs.proc_self_fd(), num, O_PATH | O_CLOEXEC));
  if (!pfd) return errno;
  *e = fuse_entry_param{};
  if (fstat(pfd.get(), &e->attr) != 0) return errno;
  Inode* inode = fs.inodes().Intern(std::move(pfd), e->attr, &parent, name);
  inode->NoteAttr(e->attr);
  e->ino = Passthrough::ino_of(inode, fs);
  e->attr_timeout = fs.config().attr_timeout;
  e->entry_timeout = fs.config().entry_timeout;
  bool inval_attr = false;
  int err = FinishOpen(req, fs, *inode, std::move(fd), fi->flags, fi, &inval_attr);
  if (err != 0) {
    if (created) {
      // Refused: leave no file behind. Remove the name only while it still names the file this
      // call created.
      struct stat now;
      if (fstatat(parent_fd.get(), name, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
          static_cast<uint64_t>(now.st_dev) == inode->key.dev &&
          static_cast<uint64_t>(now.st_ino) == inode->key.ino &&
          unlinkat(parent_fd.get(), name, 0) == 0) {
        fs.inodes().Unlinked(inode->key, &parent, name);
        spdlog::info("event=create_refused_removed inode={} name={}", inode->key.ino,
                     LogQuote(name));
      }
    }
    fs.inodes().Forget(inode, 1);
    return err;
  }
  return 0;
}

void ServeCreate(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
                 fuse_file_info* fi) {
  Passthrough& fs = Passthrough::From(req);
  fuse_entry_param e;
  int err = do_create(req, fs, fs.inode(parent), name, mode, fi, &e);
  if (err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  FileHandle* fh = Handle(fi);
  int rc = fh->backing_id >= 0
               ? KernelPassthrough::ReplyCreate(req, e, fi->fh, fh->backing_id, fi->noflush != 0)
               : fuse_reply_create(req, &e, fi);
  if (rc == -ENOENT) {
    ReleaseHandle(fs, AdoptHandle<FileHandle>(fi));
    fs.inodes().Forget(&fs.inode(e.ino), 1);
  }
}

void create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, fuse_file_info* fi) {
  Passthrough& fs = Passthrough::From(req);
  if (fs.gate() == nullptr) {
    ServeCreate(req, parent, name, mode, fi);
    return;
  }
  fs.Offload(req, [req, parent, n = std::string(name), mode, f = *fi]() mutable {
    ServeCreate(req, parent, n.c_str(), mode, &f);
  });
}

// The kernel holds the file (so its FileHandle) for as long as a read, fsync, fallocate or
// copy_file_range on it is in flight, so workers may use the handle without further pinning.
// The tickets a read is checked with (verify=blocks): the handle's own, if it has one, and those
// shared from the inode's other block-checked opens (FillTickets). Empty: not checked.
struct ReadTickets {
  std::vector<OpenTicket> shared;
  std::vector<const OpenTicket*> all;
  void Point(FileHandle* fh) {
    all.clear();
    if (fh->ticket.blocks != nullptr) all.push_back(&fh->ticket);
    for (const OpenTicket& t : shared) all.push_back(&t);
  }
};

// `tickets`: what the read is checked with (empty: not checked).
// `nowait` (verified reads only): returns false without replying if the lower file's pages are
// not all cached, so that the caller can hand the read to a worker.
bool ServeRead(fuse_req_t req, FileHandle* fh, std::span<const OpenTicket* const> tickets,
               size_t size, off_t off, bool nowait = false) {
  Passthrough& fs = Passthrough::From(req);
  const int fd = HandleFd(fs, *fh);
  if (fd < 0) {
    fuse_reply_err(req, errno);  // a reader's lower file could not be opened (HandleFd)
    return true;
  }
  Gate* gate = fs.gate();
  if (gate != nullptr && !tickets.empty()) {
    // A page fill (or a direct_io read) of a block-checked open: the whole blocks around the
    // range are read from the lower file and checked before any byte of them reaches the kernel.
    ByteBuffer& buf = t_read_buf;
    size_t start = 0, len = 0;
    Status s = ReadVerified(*gate, tickets, fd, static_cast<uint64_t>(off), size, &buf, &start,
                            &len, nowait);
    if (nowait && s.code() == Code::kUnavailable && s.sys_errno() == EAGAIN) return false;
    if (!s.ok()) {
      spdlog::warn("event=read_refused inode={} offset={} status={}", fh->inode->key.ino, off,
                   s.ToString());
      fuse_reply_err(req, s.code() == Code::kCorrupt ? EIO : (s.ToErrno() ? s.ToErrno() : EIO));
      return true;
    }
    fuse_reply_buf(req, reinterpret_cast<const char*>(buf.data()) + start, len);
    return true;
  }
  fuse_bufvec bv = FUSE_BUFVEC_INIT(size);
  bv.buf[0].flags = static_cast<fuse_buf_flags>(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
  bv.buf[0].fd = fd;
  bv.buf[0].pos = off;
  fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
  return true;
}

// Serves a read on the session thread if the lower file's page cache holds all of it (preadv2
// RWF_NOWAIT never waits for the disk). Returns false if the read must go to a worker.
bool TryReadCached(fuse_req_t req, FileHandle* fh, size_t size, off_t off) {
  Passthrough& fs = Passthrough::From(req);
  ByteBuffer& buf = t_read_buf;
  if (buf.size() < size) buf.resize(size);
  struct iovec iov = {buf.data(), size};
  ssize_t n = preadv2(HandleFd(fs, *fh), &iov, 1, off, RWF_NOWAIT);
  if (n < 0) return false;  // EAGAIN: not cached; any real error is reported by the worker
  if (static_cast<size_t>(n) < size) {
    // Short: the end of the file, or only partly cached (a short reply would read as EOF).
    struct stat st;
    if (fstat(HandleFd(fs, *fh), &st) != 0 || off + n < st.st_size) return false;
  }
  fuse_reply_buf(req, reinterpret_cast<const char*>(buf.data()), static_cast<size_t>(n));
  return true;
}

// verify=blocks: the tickets a READ of handle `fh` is checked with besides its own, while
// block-checked handles of its inode are open (CachePagesChecked): one per set of digests they
// check with (inode.checked_versions) other than fh's own, each reading part blocks through this
// handle's own lower file. For an unchecked handle (an open the policy does not appraise, a
// writer) that is all of them. False if one cannot be shared: the read is then refused (fail
// closed).
bool FillTickets(Passthrough& fs, FileHandle* fh, std::vector<OpenTicket>* out) {
  out->clear();
  if (!fh->unchecked && !fh->checked) return true;
  std::vector<std::shared_ptr<const void>> blocks;
  {
    std::lock_guard lock(fh->inode->mu);
    for (const Inode::CheckedVersion& v : fh->inode->checked_versions) {
      if (!fh->checked || v.key != fh->checked_key) blocks.push_back(v.blocks);
    }
  }
  for (std::shared_ptr<const void>& b : blocks) {
    OpenTicket t = fs.gate()->ShareTicket(OpenTicket{std::move(b)}, [&fs, fh]() -> Result<Fd> {
      return TicketReopen(fs, *fh);
    });
    if (t.blocks == nullptr) return false;
    out->push_back(std::move(t));
  }
  return true;
}

void read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  (void)ino;
  Passthrough& fs = Passthrough::From(req);
  FileHandle* fh = Handle(fi);
  ReadTickets tickets;
  if (fs.gate() != nullptr) {
    if (!FillTickets(fs, fh, &tickets.shared)) {
      spdlog::warn("event=read_refused inode={} offset={} reason=\"block digests of a checked "
                   "open could not be shared\"",
                   fh->inode->key.ino, off);
      fuse_reply_err(req, EIO);
      return;
    }
    tickets.Point(fh);
  }
  const bool verify = !tickets.all.empty();
  if (!verify && TryReadCached(req, fh, size, off)) return;
  // A verified read whose blocks are all in the lower page cache is checked and served here: a
  // hand-off to a worker costs more than the block tags (GMAC, ~10 us per 64 KiB) unless the read
  // is large and other requests are waiting for this thread.
  if (verify && (size <= kInlineVerifiedReadMax || !fs.RequestsPending()) &&
      ServeRead(req, fh, tickets.all, size, off, /*nowait=*/true)) {
    return;
  }
  // Not cached below: a small read with nobody else waiting is served at once (a hand-off to a
  // worker would cost more than the read); otherwise a worker waits for the disk.
  if (!verify && size <= kInlineReadMax && !fs.RequestsPending()) {
    ServeRead(req, fh, {}, size, off);
    return;
  }
  // The worker keeps the shared tickets alive (the kernel keeps fh while its read is in flight).
  fs.Offload(req, [req, fh, size, off, t = std::move(tickets.shared)]() mutable {
    ReadTickets w;
    w.shared = std::move(t);
    if (Passthrough::From(req).gate() != nullptr) w.Point(fh);
    ServeRead(req, fh, w.all, size, off);
  });
}

void write_buf(fuse_req_t req, fuse_ino_t ino, fuse_bufvec* in, off_t off, fuse_file_info* fi) {
  (void)ino;
  Passthrough& fs = Passthrough::From(req);
  FileHandle* fh = Handle(fi);
  fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in));
  out.buf[0].flags = static_cast<fuse_buf_flags>(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
  out.buf[0].fd = HandleFd(fs, *fh);
  out.buf[0].pos = off;
  ssize_t n = fuse_buf_copy(&out, in, static_cast<fuse_buf_copy_flags>(0));
  if (n > 0) fs.Changed(*fh->inode);
  if (n < 0) {
    fuse_reply_err(req, static_cast<int>(-n));
  } else {
    fuse_reply_write(req, static_cast<size_t>(n));
  }
}

void flush(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  // Sent only if a handle was opened without noflush; writes are already in the lower file and
  // locks are the kernel's, so there is nothing to do.
  (void)ino;
  (void)fi;
  fuse_reply_err(req, 0);
}

void release(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  (void)ino;
  Passthrough& fs = Passthrough::From(req);
  std::unique_ptr<FileHandle> fh = AdoptHandle<FileHandle>(fi);
  if (fs.gate() != nullptr && fh->writer) {
    // The Gate may hash the file its last writer closed: off the session thread. The kernel does
    // not wait for this reply. (std::function needs a copyable task: the handle travels as a
    // shared_ptr, freed exactly once whether or not the task runs.)
    Inode* ip = fh->inode;
    const uint32_t uid = fh->uid;
    {
      std::lock_guard lock(ip->mu);
      ++ip->closing;
    }
    // Counted down exactly once, whether or not the task runs (the kernel holds the inode until
    // the reply, which comes after).
    std::shared_ptr<FileHandle> shared(fh.release(), [ip](FileHandle* h) {
      delete h;
      std::lock_guard lock(ip->mu);
      if (--ip->closing == 0) ip->closed_cv.notify_all();
    });
    fs.OffloadRelease(req, uid, [req, &fs, shared]() mutable {
      CloseHandle(fs, *shared);
      shared.reset();
      fuse_reply_err(req, 0);
    });
    return;
  }
  ReleaseHandle(fs, std::move(fh));
  fuse_reply_err(req, 0);
}

void fsync(fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi) {
  (void)ino;
  int fd = HandleFd(Passthrough::From(req), *Handle(fi));
  if (fd < 0) {
    fuse_reply_err(req, errno);
    return;
  }
  Passthrough::From(req).Offload(req, [req, fd, datasync] {
    int rc = datasync ? fdatasync(fd) : ::fsync(fd);
    fuse_reply_err(req, rc == 0 ? 0 : errno);
  });
}

void fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len, fuse_file_info* fi) {
  (void)ino;
  Passthrough& fs = Passthrough::From(req);
  FileHandle* fh = Handle(fi);
  fs.Offload(req, [req, &fs, fh, mode, off, len] {
    int err = ::fallocate(HandleFd(fs, *fh), mode, off, len) == 0 ? 0 : errno;
    if (err == 0) fs.Changed(*fh->inode);
    fuse_reply_err(req, err);
  });
}

void copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in, fuse_file_info* fi_in,
                     fuse_ino_t ino_out, off_t off_out, fuse_file_info* fi_out, size_t len,
                     int flags) {
  (void)ino_in;
  (void)ino_out;
  Passthrough& fs = Passthrough::From(req);
  FileHandle* in = Handle(fi_in);
  FileHandle* out = Handle(fi_out);
  if (fs.gate() != nullptr) {
    // A source whose reads are checked (verify=blocks: its own ticket, or one shared from a
    // block-checked open of its inode, FillTickets): a copy of the lower files would pass bytes no
    // check has seen. EOPNOTSUPP makes the kernel copy through its page cache instead, whose fills
    // are READs, checked as any other.
    std::vector<OpenTicket> shared;
    if (in->ticket.blocks != nullptr || !FillTickets(fs, in, &shared) || !shared.empty()) {
      fuse_reply_err(req, EOPNOTSUPP);
      return;
    }
  }
  fs.Offload(req, [req, &fs, in, out, off_in, off_out, len, flags] {
    loff_t oi = off_in, oo = off_out;
    int ifd = HandleFd(fs, *in);
    int ofd = ifd < 0 ? -1 : HandleFd(fs, *out);
    ssize_t n =
        ofd < 0 ? -1 : ::copy_file_range(ifd, &oi, ofd, &oo, len, static_cast<unsigned>(flags));
    if (n < 0) {
      fuse_reply_err(req, errno);
      return;
    }
    if (n > 0) fs.Changed(*out->inode);
    fuse_reply_write(req, static_cast<size_t>(n));
  });
}

void lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, fuse_file_info* fi) {
  (void)ino;
  int fd = HandleFd(Passthrough::From(req), *Handle(fi));
  off_t r = fd < 0 ? -1 : ::lseek(fd, off, whence);
  if (r < 0) {
    fuse_reply_err(req, errno);
  } else {
    fuse_reply_lseek(req, r);
  }
}

}  // namespace

void RegisterOpenRwOps(fuse_lowlevel_ops* ops) {
  ops->open = open;
  ops->create = create;
  ops->read = read;
  ops->write_buf = write_buf;
  ops->flush = flush;
  ops->release = release;
  ops->fsync = fsync;
  ops->fallocate = fallocate;
  ops->copy_file_range = copy_file_range;
  ops->lseek = lseek;
}

void Passthrough::PrepareThread(bool session) {
  if (session) {
    // The largest READ the kernel sends (FUSE_MAX_MAX_PAGES, or max_read=), and for verify=blocks
    // the part-blocks at either end that ReadVerified reads with it.
    size_t n = cfg_.max_read != 0 ? cfg_.max_read : size_t{1} << 20;
    if (cfg_.gate != nullptr && cfg_.gate->verify_blocks()) n += 2 * kVerifyBlockSize;
    Prefault(&t_read_buf, n);
  }
  if (cfg_.gate != nullptr) cfg_.gate->PrepareThread(session);
}

}  // namespace dfs::fs
