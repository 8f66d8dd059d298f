// fs/kernel_passthrough.h: the kernel's FUSE passthrough (Linux 6.9 and later, built with
// CONFIG_FUSE_PASSTHROUGH) from a libfuse 3.14 daemon.
//
// With passthrough, an open file's reads, writes and mmaps go from the kernel straight to a
// "backing" lower file that the daemon registered, at the lower file system's own speed (its page
// cache and large folios), without a round trip to the daemon and without a second copy in the
// FUSE page cache. libfuse 3.14 predates the feature, so this module speaks the few protocol
// pieces it needs itself (the formats are the kernel's include/uapi/linux/fuse.h, protocol 7.40):
//   - INIT: the kernel offers FUSE_PASSTHROUGH in flags2; the reply accepts it by setting the same
//     flag and max_stack_depth. libfuse writes that reply; a libfuse custom I/O hook (installed
//     with fuse_session_custom_io on the mounted session's own /dev/fuse descriptor) adds the two
//     fields on the way out. Every other message passes through the hooks untouched.
//   - FUSE_DEV_IOC_BACKING_OPEN / _CLOSE ioctls on /dev/fuse register a lower file and return or
//     drop its backing id (the kernel requires CAP_SYS_ADMIN; Install checks for it).
//   - The OPEN reply carries FOPEN_PASSTHROUGH and the backing id (ReplyOpen below).
// The same hooks also poll the device before each read (device_poll.h), so this class owns the
// session's device I/O whether or not passthrough is wanted.
//
// The kernel's rules the caller must follow (fs/fuse/iomode.c): while an inode has a file open
// in passthrough, every other open of it must be passthrough too, with the same backing file;
// while it has files open through the page cache, a passthrough open fails. Passthrough's users
// (node_open_rw.cc) therefore choose one I/O mode per inode while it has open files. The
// kernel opens the lower file for each open without the checks of may_open(): writers must be
// checked by the daemon (node_open_rw.cc opens the lower file with each writer's flags).
//
// Thread safety: all methods may be called from any thread once Install has returned.
#pragma once

#include <fuse_lowlevel.h>

#include <atomic>
#include <chrono>
#include <cstdint>

#include "common/status.h"
#include "fs/device_poll.h"

namespace dfs::fs {

// Which files a mount serves in passthrough (the passthrough= mount option).
enum class PassthroughMode {
  kOff,     // none: every file through the FUSE page cache
  kAuto,    // files of at least kPassthroughMinSize when first opened (the default)
  kAlways,  // every regular file
};

// Below this size a file is cheaper through the page cache: registering a backing file and the
// kernel's extra open of it cost more per open than passthrough saves on reading a small file
// (bench/fs_bench.sh; docs/mount.md has the numbers).
inline constexpr uint64_t kPassthroughMinSize = 1u << 20;

class KernelPassthrough {
 public:
  KernelPassthrough() = default;
  KernelPassthrough(const KernelPassthrough&) = delete;
  KernelPassthrough& operator=(const KernelPassthrough&) = delete;

  // Installs the I/O hooks on the mounted session `se`, whose userdata is the Passthrough that
  // owns this object. Call after fuse_session_mount and before the loop starts. `want`: offer
  // passthrough in the INIT reply (only with CAP_SYS_ADMIN); `poll`: the budget each session
  // thread polls the device for before it sleeps in read() (PollReadable; zero: no polling);
  // `poll_follows_kernel`: none while the kernel's fuse wakes the daemon on the caller's CPU
  // (PollBudget, device_poll.h). With neither `want` nor `poll`, nothing is installed. enabled()
  // stays false unless `want`. Errors: kPermissionDenied (`want` without CAP_SYS_ADMIN: the hooks
  // are still installed for `poll`), kIo if libfuse refuses the hooks (the mount then runs without
  // either; the caller logs it).
  Status Install(fuse_session* se, bool want, std::chrono::microseconds poll,
                 bool poll_follows_kernel = false);

  // Whether INIT agreed on passthrough: the kernel offered it and the reply accepted it.
  bool enabled() const { return enabled_.load(std::memory_order_acquire); }
  // Whether the kernel offered passthrough in INIT (for logging why it is off).
  bool offered() const { return offered_.load(std::memory_order_acquire); }

  // Registers the lower file `fd` as a backing file and returns its id. The kernel uses it for
  // its path and the calling thread's credentials (each open through the mount opens the lower
  // file anew with the opener's flags); recent kernels (6.18 here) accept an O_PATH descriptor,
  // older ones answer EBADF and need an opened file. Errors are the ioctl's, errno kept
  // (Status::FromErrno): EPERM (no CAP_SYS_ADMIN, or passthrough not enabled: the first EPERM
  // turns enabled() off), ELOOP (the lower file system itself stacks too deep), EBADF, others.
  // The kernel keeps its own reference: `fd` may be closed afterwards.
  Result<int32_t> OpenBacking(int fd);
  // Drops a backing id. Files already opened with it keep working.
  void CloseBacking(int32_t id);

  // Replies to an OPEN with the file handle `fh` in passthrough mode on `backing_id`, with
  // FOPEN_NOFLUSH if `noflush`. Returns what fuse_reply_open would (0, or -ENOENT if the opener
  // was interrupted and the kernel will never see the handle).
  static int ReplyOpen(fuse_req_t req, uint64_t fh, int32_t backing_id, bool noflush);
  // The same for a CREATE, whose reply carries the new entry `e` first (as fuse_reply_create).
  static int ReplyCreate(fuse_req_t req, const fuse_entry_param& e, uint64_t fh, int32_t backing_id,
                         bool noflush);

  // The custom I/O callbacks libfuse calls (userdata: the owning Passthrough). Public, with
  // WantForTest (Install's `want` without a session), so unit tests can drive them over pipes.
  static ssize_t HookRead(int fd, void* buf, size_t len, void* userdata);
  static ssize_t HookWritev(int fd, struct iovec* iov, int count, void* userdata);
  void WantForTest() { want_.store(true, std::memory_order_release); }
  void PollForTest(std::chrono::microseconds poll) { poll_ = poll; }
  // The poll budget given to Install (zero: no polling), and whether it follows the kernel.
  std::chrono::microseconds poll() const { return poll_; }
  bool poll_follows_kernel() const { return poll_follows_kernel_; }

  // Reads of the device by session threads with a non-zero poll(), by what PollBudget chose
  // before each (PollChoice): polled, not polled because the host was busy, not polled because
  // the kernel wakes the daemon on the caller's CPU. For the runtime status file.
  struct PollCounts {
    uint64_t polled = 0;
    uint64_t host_busy = 0;
    uint64_t kernel_wakes = 0;
  };
  void CountPoll(PollChoice choice);
  PollCounts poll_counts() const;

 private:
  static ssize_t HookSpliceReceive(int fdin, off_t* offin, int fdout, off_t* offout, size_t len,
                                   unsigned int flags, void* userdata);
  static ssize_t HookSpliceSend(int fdin, off_t* offin, int fdout, off_t* offout, size_t len,
                                unsigned int flags, void* userdata);

  int dev_fd_ = -1;                    // the session's /dev/fuse descriptor (owned by libfuse)
  std::chrono::microseconds poll_{0};  // set before the loop starts, read-only afterwards
  bool poll_follows_kernel_ = false;   // likewise
  std::atomic<uint64_t> polled_{0};
  std::atomic<uint64_t> poll_host_busy_{0};
  std::atomic<uint64_t> poll_kernel_wakes_{0};
  std::atomic<bool> want_{false};
  std::atomic<bool> offered_{false};
  std::atomic<bool> enabled_{false};
  std::atomic<uint64_t> init_unique_{0};  // the INIT request's unique id (0: not seen yet)
};

}  // namespace dfs::fs
