#include "fs/kernel_passthrough.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/fuse.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "fs/creds.h"
#include "fs/device_poll.h"
#include "fs/passthrough.h"

namespace dfs::fs {

namespace {

// Wire formats and constants of the FUSE protocol (include/uapi/linux/fuse.h). Debian 12's kernel
// headers (6.1) predate passthrough, so the pieces used here are spelled out.
constexpr uint32_t kOpInit = 26;                  // FUSE_INIT
constexpr uint32_t kInitExt = 1u << 30;           // FUSE_INIT_EXT: flags2 is valid
constexpr uint32_t kFlags2Passthrough = 1u << 5;  // FUSE_PASSTHROUGH (bit 37) in flags2
constexpr uint32_t kFopenNoflush = 1u << 5;       // FOPEN_NOFLUSH
constexpr uint32_t kFopenPassthrough = 1u << 7;   // FOPEN_PASSTHROUGH
// One level of stacking: the lower file system may not itself be a stacking one (overlayfs,
// another passthrough FUSE); such files are served through the page cache instead.
constexpr uint32_t kMaxStackDepth = 1;

struct InHeader {  // fuse_in_header
  uint32_t len;
  uint32_t opcode;
  uint64_t unique;
  uint64_t nodeid;
  uint32_t uid, gid, pid;
  uint16_t total_extlen;
  uint16_t padding;
};
static_assert(sizeof(InHeader) == 40);

struct InitIn {  // fuse_init_in (7.36+)
  uint32_t major, minor, max_readahead, flags, flags2;
  uint32_t unused[11];
};

struct OutHeader {  // fuse_out_header
  uint32_t len;
  int32_t error;
  uint64_t unique;
};
static_assert(sizeof(OutHeader) == 16);

// fuse_init_out (7.40): the fields this module changes, at their offsets.
constexpr size_t kInitOutSize = 64;
constexpr size_t kInitOutFlags = 12;
constexpr size_t kInitOutFlags2 = 32;
constexpr size_t kInitOutMaxStackDepth = 36;

struct OpenOut {  // fuse_open_out (7.40)
  uint64_t fh;
  uint32_t open_flags;
  int32_t backing_id;
};
static_assert(sizeof(OpenOut) == 16);

struct BackingMap {  // fuse_backing_map
  int32_t fd;
  uint32_t flags;
  uint64_t padding;
};
static_assert(sizeof(BackingMap) == 16);

constexpr unsigned long kIocMagic = 229;  // FUSE_DEV_IOC_MAGIC
const unsigned long kIocBackingOpen = _IOW(kIocMagic, 1, BackingMap);
const unsigned long kIocBackingClose = _IOW(kIocMagic, 2, uint32_t);

// The hooks get the session's userdata: the Passthrough that owns the KernelPassthrough.
KernelPassthrough* From(void* userdata) { return &static_cast<Passthrough*>(userdata)->kernel(); }

// Polls the device before a read (not while the host is busy, nor, for a budget that follows the
// kernel, while its fuse wakes the daemon on the caller's CPU: PollBudget); false if the read
// must not start: the session was told to exit (a signal's handler ran while polling, or before,
// and no request came), so the caller's loop ends instead of sleeping in read() until the next
// request.
bool PollBeforeRead(int fd, void* userdata) {
  KernelPassthrough* self = From(userdata);
  if (self->poll().count() == 0) return true;
  PollChoice choice = PollChoice::kPolled;
  const std::chrono::microseconds budget =
      PollBudget(self->poll(), self->poll_follows_kernel(), kFuseWakeHerePath, &choice);
  self->CountPoll(choice);
  if (budget.count() != 0 && PollReadable(fd, budget)) return true;
  fuse_session* se = static_cast<Passthrough*>(userdata)->session();
  return se == nullptr || !fuse_session_exited(se);
}

uint32_t Load32(const void* base, size_t off) {
  uint32_t v;
  memcpy(&v, static_cast<const char*>(base) + off, sizeof v);
  return v;
}
void Store32(void* base, size_t off, uint32_t v) {
  memcpy(static_cast<char*>(base) + off, &v, sizeof v);
}

}  // namespace

void KernelPassthrough::CountPoll(PollChoice choice) {
  std::atomic<uint64_t>& n = choice == PollChoice::kPolled     ? polled_
                             : choice == PollChoice::kHostBusy ? poll_host_busy_
                                                               : poll_kernel_wakes_;
  n.fetch_add(1, std::memory_order_relaxed);
}

KernelPassthrough::PollCounts KernelPassthrough::poll_counts() const {
  PollCounts c;
  c.polled = polled_.load(std::memory_order_relaxed);
  c.host_busy = poll_host_busy_.load(std::memory_order_relaxed);
  c.kernel_wakes = poll_kernel_wakes_.load(std::memory_order_relaxed);
  return c;
}

Status KernelPassthrough::Install(fuse_session* se, bool want, std::chrono::microseconds poll,
                                  bool poll_follows_kernel) {
  if (!want && poll.count() == 0) return Status::Ok();
  Status status = Status::Ok();
  if (want) {
    // Registering backing files takes CAP_SYS_ADMIN: without it, accepting passthrough in INIT
    // would only mark the mount as stacked.
    if (!HaveCapability(CAP_SYS_ADMIN)) {
      status = Status(Code::kPermissionDenied, "kernel passthrough needs CAP_SYS_ADMIN");
      want = false;
      if (poll.count() == 0) return status;
    }
  }
  dev_fd_ = fuse_session_fd(se);
  poll_ = poll;
  poll_follows_kernel_ = poll_follows_kernel;
  want_.store(want, std::memory_order_release);
  fuse_custom_io io{};
  io.read = HookRead;
  io.writev = HookWritev;
  io.splice_receive = HookSpliceReceive;
  io.splice_send = HookSpliceSend;
  // The same descriptor the session already uses: only the read/write paths change.
  if (int rc = fuse_session_custom_io(se, &io, dev_fd_); rc != 0) {
    want_.store(false, std::memory_order_release);
    poll_ = std::chrono::microseconds{0};
    return Status::FromErrno(-rc, "installing the FUSE I/O hooks");
  }
  return status;
}

ssize_t KernelPassthrough::HookRead(int fd, void* buf, size_t len, void* userdata) {
  if (!PollBeforeRead(fd, userdata)) {
    errno = EINTR;
    return -1;
  }
  ssize_t n = read(fd, buf, len);
  if (n >= static_cast<ssize_t>(sizeof(InHeader) + offsetof(InitIn, unused))) {
    InHeader h;
    memcpy(&h, buf, sizeof h);
    if (h.opcode == kOpInit) {
      KernelPassthrough* self = From(userdata);
      InitIn in;
      memcpy(&in, static_cast<char*>(buf) + sizeof h, offsetof(InitIn, unused));
      bool offered = (in.flags & kInitExt) != 0 && (in.flags2 & kFlags2Passthrough) != 0;
      self->offered_.store(offered, std::memory_order_release);
      if (offered && self->want_.load(std::memory_order_acquire)) {
        self->init_unique_.store(h.unique, std::memory_order_release);
      }
    }
  }
  return n;
}

ssize_t KernelPassthrough::HookWritev(int fd, struct iovec* iov, int count, void* userdata) {
  KernelPassthrough* self = nullptr;
  bool patched = false;
  if (count >= 2 && iov[0].iov_len == sizeof(OutHeader) && iov[1].iov_len >= kInitOutSize) {
    self = From(userdata);
    uint64_t init_unique = self->init_unique_.load(std::memory_order_acquire);
    OutHeader h;
    memcpy(&h, iov[0].iov_base, sizeof h);
    if (init_unique != 0 && h.unique == init_unique && h.error == 0) {
      // The INIT reply: accept passthrough. libfuse never asks for the writeback cache here
      // (passthrough.cc turns it off), which the kernel requires for passthrough.
      void* out = iov[1].iov_base;
      Store32(out, kInitOutFlags, Load32(out, kInitOutFlags) | kInitExt);
      Store32(out, kInitOutFlags2, Load32(out, kInitOutFlags2) | kFlags2Passthrough);
      Store32(out, kInitOutMaxStackDepth, kMaxStackDepth);
      self->init_unique_.store(0, std::memory_order_release);
      patched = true;
    }
  }
  ssize_t n = writev(fd, iov, count);
  if (patched && n >= 0) self->enabled_.store(true, std::memory_order_release);
  return n;
}

ssize_t KernelPassthrough::HookSpliceReceive(int fdin, off_t* offin, int fdout, off_t* offout,
                                             size_t len, unsigned int flags, void* userdata) {
  if (!PollBeforeRead(fdin, userdata)) {
    errno = EINTR;
    return -1;
  }
  return splice(fdin, offin, fdout, offout, len, flags);
}

ssize_t KernelPassthrough::HookSpliceSend(int fdin, off_t* offin, int fdout, off_t* offout,
                                          size_t len, unsigned int flags, void*) {
  return splice(fdin, offin, fdout, offout, len, flags);
}

Result<int32_t> KernelPassthrough::OpenBacking(int fd) {
  if (!enabled()) return Status::FromErrno(EPERM, "passthrough is not enabled");
  BackingMap map{};
  map.fd = fd;
  int id = ioctl(dev_fd_, kIocBackingOpen, &map);
  if (id < 0) {
    int err = errno;
    if (err == EPERM && enabled_.exchange(false)) {
      // Not allowed after all (e.g. capabilities dropped): stop trying, once for the mount.
      spdlog::warn("event=kernel_passthrough_disabled reason=backing_open_eperm");
    }
    return Status::FromErrno(err, "registering a backing file");
  }
  return static_cast<int32_t>(id);
}

void KernelPassthrough::CloseBacking(int32_t id) {
  uint32_t v = static_cast<uint32_t>(id);
  if (ioctl(dev_fd_, kIocBackingClose, &v) != 0) {
    spdlog::warn("event=backing_close_failed id={} errno={}", id, errno);
  }
}

int KernelPassthrough::ReplyOpen(fuse_req_t req, uint64_t fh, int32_t backing_id, bool noflush) {
  OpenOut out{};
  out.fh = fh;
  out.open_flags = kFopenPassthrough | (noflush ? kFopenNoflush : 0);
  out.backing_id = backing_id;
  struct iovec iov = {&out, sizeof out};
  return fuse_reply_iov(req, &iov, 1);
}

int KernelPassthrough::ReplyCreate(fuse_req_t req, const fuse_entry_param& e, uint64_t fh,
                                   int32_t backing_id, bool noflush) {
  struct fuse_entry_out entry {};
  entry.nodeid = e.ino;
  entry.generation = e.generation;
  auto split = [](double t, uint64_t* sec, uint32_t* nsec) {
    if (t <= 0) t = 0;
    *sec = static_cast<uint64_t>(t);
    *nsec = static_cast<uint32_t>((t - static_cast<double>(*sec)) * 1e9);
  };
  split(e.entry_timeout, &entry.entry_valid, &entry.entry_valid_nsec);
  split(e.attr_timeout, &entry.attr_valid, &entry.attr_valid_nsec);
  const struct stat& st = e.attr;
  fuse_attr& a = entry.attr;
  a.ino = st.st_ino;
  a.size = static_cast<uint64_t>(st.st_size);
  a.blocks = static_cast<uint64_t>(st.st_blocks);
  a.atime = static_cast<uint64_t>(st.st_atim.tv_sec);
  a.mtime = static_cast<uint64_t>(st.st_mtim.tv_sec);
  a.ctime = static_cast<uint64_t>(st.st_ctim.tv_sec);
  a.atimensec = static_cast<uint32_t>(st.st_atim.tv_nsec);
  a.mtimensec = static_cast<uint32_t>(st.st_mtim.tv_nsec);
  a.ctimensec = static_cast<uint32_t>(st.st_ctim.tv_nsec);
  a.mode = st.st_mode;
  a.nlink = static_cast<uint32_t>(st.st_nlink);
  a.uid = st.st_uid;
  a.gid = st.st_gid;
  a.rdev = static_cast<uint32_t>(st.st_rdev);
  a.blksize = static_cast<uint32_t>(st.st_blksize);
  OpenOut out{};
  out.fh = fh;
  out.open_flags = kFopenPassthrough | (noflush ? kFopenNoflush : 0);
  out.backing_id = backing_id;
  struct iovec iov[2] = {{&entry, sizeof entry}, {&out, sizeof out}};
  return fuse_reply_iov(req, iov, 2);
}

}  // namespace dfs::fs
