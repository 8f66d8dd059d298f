#include "fs/lower_watch.h"

#include <fcntl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <chrono>
#include <cstring>
#include <vector>

namespace dfs::fs {

namespace {

// A directory's listing changed.
constexpr uint64_t kEntryEvents = FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO;
// An object's attributes changed (chmod, chown, utimes, xattrs, link count), or a file was closed
// after writing (size and times). Writes themselves (FAN_MODIFY) are not watched: an open of the
// file through the mount compares its size and times anyway, and a writer beneath would send one
// event per write.
constexpr uint64_t kAttrEvents = FAN_ATTRIB | FAN_CLOSE_WRITE;
// How long the watch thread lets events gather after the first one wakes it.
constexpr std::chrono::microseconds kGather{1000};

}  // namespace

Result<std::unique_ptr<LowerWatch>> LowerWatch::Start(OnChange on_change, OnLost on_lost) {
  Fd fan(fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_DFID_NAME,
                       O_RDONLY | O_CLOEXEC | O_LARGEFILE));
  if (!fan) {
    const int err = errno;
    if (err == EPERM) return Status(Code::kPermissionDenied, "fanotify needs CAP_SYS_ADMIN", err);
    if (err == EINVAL) {
      return Status(Code::kUnsupported,
                    "this kernel's fanotify cannot report names of directory entries (Linux 5.9+)",
                    err);
    }
    return Status::FromErrno(err, "fanotify_init");
  }
  Fd stop(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop) return Status::FromErrno(errno, "eventfd");
  std::unique_ptr<LowerWatch> w(
      new LowerWatch(std::move(fan), std::move(stop), std::move(on_change), std::move(on_lost)));
  try {
    w->thread_ = std::thread([p = w.get()] { p->Loop(); });
  } catch (const std::system_error& e) {
    return Status(Code::kUnavailable, std::string("starting the watch thread: ") + e.what());
  }
  return w;
}

LowerWatch::LowerWatch(Fd fan, Fd stop, OnChange on_change, OnLost on_lost)
    : fan_(std::move(fan)),
      stop_(std::move(stop)),
      on_change_(std::move(on_change)),
      on_lost_(std::move(on_lost)) {}

LowerWatch::~LowerWatch() {
  if (thread_.joinable()) {
    stopping_.store(true);
    uint64_t one = 1;
    if (write(stop_.get(), &one, sizeof one) != sizeof one) {
      spdlog::error("event=lower_watch_stop_failed err={}", strerror(errno));
    }
    thread_.join();
  }
}

Status LowerWatch::Mark(int fan, int dir, dev_t dev) {
  if (fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_FILESYSTEM,
                    kEntryEvents | kAttrEvents | FAN_ONDIR, dir, nullptr) == 0) {
    return Status::Ok();
  }
  const int err = errno;
  if (err == EOPNOTSUPP || err == ENODEV || err == EXDEV || err == EINVAL) {
    return Status(Code::kUnsupported,
                  "the lower file system (device " + std::to_string(major(dev)) + ":" +
                      std::to_string(minor(dev)) +
                      ") cannot be watched: it does not report file handles to fanotify",
                  err);
  }
  return Status::FromErrno(err, "fanotify_mark of the lower file system");
}

Status LowerWatch::Watch(int fd, bool hold) {
  struct stat st;
  if (fstat(fd, &st) != 0) return Status::FromErrno(errno, "fstat of a lower directory");
  struct statfs sfs;
  if (fstatfs(fd, &sfs) != 0) return Status::FromErrno(errno, "statfs of a lower directory");
  std::lock_guard lock(mu_);
  for (const Marked& m : marked_) {
    if (m.dev == st.st_dev) return Status::Ok();
  }
  unsigned char fsid[8];
  static_assert(sizeof(sfs.f_fsid) == sizeof fsid);
  std::memcpy(fsid, &sfs.f_fsid, sizeof fsid);
  // An open directory, not an O_PATH descriptor: neither fanotify_mark (without a path) nor
  // open_by_handle_at takes those.
  Fd dir(openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return Status::FromErrno(errno, "opening a lower directory to watch");
  DFS_RETURN_IF_ERROR(Mark(fan_.get(), dir.get(), st.st_dev));
  Marked m{st.st_dev, {}, hold ? std::move(dir) : Fd()};
  std::memcpy(m.fsid, fsid, sizeof fsid);
  marked_.push_back(std::move(m));
  return Status::Ok();
}

bool LowerWatch::Watches(dev_t dev, int dir_fd) {
  if (broken_.load(std::memory_order_relaxed)) return false;
  std::lock_guard lock(mu_);
  for (auto it = marked_.begin(); it != marked_.end(); ++it) {
    if (it->dev != dev) continue;
    if (it->fd || dir_fd < 0) return true;
    // Not held: the file system marked may have been unmounted since (its mark went with it) and
    // the device number given to another one. Marking again through this directory covers both.
    Fd dir(openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    struct statfs sfs;
    if (dir && fstatfs(dir.get(), &sfs) == 0 && Mark(fan_.get(), dir.get(), dev).ok()) {
      std::memcpy(it->fsid, &sfs.f_fsid, sizeof it->fsid);
      it->fd = std::move(dir);
      return true;
    }
    marked_.erase(it);
    return false;
  }
  return false;
}

int LowerWatch::MountFdFor(const void* fsid) {
  std::lock_guard lock(mu_);
  for (const Marked& m : marked_) {
    // Not held (-1): nothing on that file system was looked up, so the kernel holds none of it.
    if (std::memcmp(m.fsid, fsid, sizeof m.fsid) == 0) return m.fd.get();
  }
  return -1;
}

void LowerWatch::Loop() {
  // Event buffers are aligned for fanotify_event_metadata; 64 KiB holds hundreds of events.
  alignas(struct fanotify_event_metadata) static thread_local char buf[64 * 1024];
  for (;;) {
    pollfd p[2] = {{fan_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("event=lower_watch_failed op=poll err={}", strerror(errno));
      broken_.store(true);
      on_lost_();  // nothing will be reported from now on: treat it as events lost
      return;
    }
    if (p[1].revents != 0 || stopping_.load(std::memory_order_relaxed)) return;
    // Let a burst of changes gather before reading them: one wakeup and one read per burst
    // instead of one per event, for the writer as for this thread.
    std::this_thread::sleep_for(kGather);
    while (!stopping_.load(std::memory_order_relaxed)) {
      ssize_t n = read(fan_.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) break;
      if (n <= 0) {
        spdlog::error("event=lower_watch_failed op=read err={}", n < 0 ? strerror(errno) : "eof");
        broken_.store(true);
        on_lost_();
        return;
      }
      Handle(buf, static_cast<size_t>(n));
    }
  }
}

FanotifyParse ParseFanotifyEvents(const char* buf, size_t len, pid_t self,
                                  const std::function<void(const FanotifyEntry&)>& on_entry) {
  FanotifyParse out;
  // Every field is copied out with memcpy: the kernel aligns events to 4 bytes, the metadata's
  // 64-bit mask wants 8, and nothing here trusts the buffer to be aligned at all.
  struct fanotify_event_metadata md;
  for (size_t off = 0; off + sizeof md <= len; off += md.event_len) {
    std::memcpy(&md, buf + off, sizeof md);
    if (md.event_len < sizeof md || md.event_len > len - off) break;
    if (md.vers != FANOTIFY_METADATA_VERSION) {
      out.bad_version = true;
      return out;
    }
    ++out.events;
    if (md.mask & FAN_Q_OVERFLOW) {
      out.overflow = true;
      continue;
    }
    if (md.pid == self) continue;  // made through the mount: the kernel knows already
    if (md.metadata_len < sizeof md || md.metadata_len > md.event_len) continue;
    // Info records follow the metadata; the one wanted is the directory's handle and the name.
    size_t p = off + md.metadata_len;
    const size_t end = off + md.event_len;
    struct fanotify_event_info_header hdr;
    while (sizeof hdr <= end - p) {
      std::memcpy(&hdr, buf + p, sizeof hdr);
      if (hdr.len < sizeof hdr || hdr.len > end - p) break;
      // The record: header, fsid, then a struct file_handle and the NUL-terminated name.
      constexpr size_t kFsidAt = offsetof(struct fanotify_event_info_fid, fsid);
      constexpr size_t kHandleAt = offsetof(struct fanotify_event_info_fid, handle);
      if (hdr.info_type == FAN_EVENT_INFO_TYPE_DFID_NAME &&
          hdr.len >= kHandleAt + sizeof(struct file_handle)) {
        struct file_handle fh_head;
        std::memcpy(&fh_head, buf + p + kHandleAt, sizeof fh_head);
        if (fh_head.handle_bytes > MAX_HANDLE_SZ) break;
        const size_t hsize = sizeof(struct file_handle) + fh_head.handle_bytes;
        if (hsize >= hdr.len - kHandleAt) break;  // no room for the name's terminating NUL
        const char* name = buf + p + kHandleAt + hsize;
        const size_t name_max = hdr.len - kHandleAt - hsize;
        FanotifyEntry e;
        e.fsid = reinterpret_cast<const unsigned char*>(buf + p + kFsidAt);
        e.handle = reinterpret_cast<const unsigned char*>(buf + p + kHandleAt);
        e.handle_size = hsize;
        e.name = std::string_view(name, strnlen(name, name_max));
        e.listing_changed = (md.mask & kEntryEvents) != 0;
        on_entry(e);
      }
      p += hdr.len;
    }
  }
  return out;
}

void LowerWatch::Handle(const char* buf, size_t len) {
  // A buffer holds runs of events in the same directory (a program writing many files), most of
  // them often in directories outside the lower tree: each directory handle is opened once per
  // buffer, not once per event.
  std::vector<Decoded>& seen = decoded_;
  seen.clear();
  FanotifyParse r = ParseFanotifyEvents(buf, len, getpid(), [&](const FanotifyEntry& e) {
    const Decoded* d = nullptr;
    for (auto it = seen.rbegin(); it != seen.rend(); ++it) {
      if (it->handle_size == e.handle_size && std::memcmp(it->fsid, e.fsid, 8) == 0 &&
          std::memcmp(it->handle, e.handle, e.handle_size) == 0) {
        d = &*it;
        break;
      }
    }
    if (d == nullptr) {
      Decoded n{e.fsid, e.handle, e.handle_size, false, {}};
      const int mount_fd = MountFdFor(e.fsid);
      if (mount_fd >= 0) {
        alignas(struct file_handle) char hbuf[sizeof(struct file_handle) + MAX_HANDLE_SZ];
        std::memcpy(hbuf, e.handle, e.handle_size);
        Fd dir(open_by_handle_at(mount_fd, reinterpret_cast<struct file_handle*>(hbuf),
                                 O_PATH | O_CLOEXEC));
        // A directory already gone (ESTALE): nothing of it can be cached any more.
        n.found = dir && fstat(dir.get(), &n.st) == 0;
      }
      seen.push_back(n);
      d = &seen.back();
    }
    if (d->found) on_change_(d->st, e.name, e.listing_changed);
  });
  events_.fetch_add(r.events, std::memory_order_relaxed);
  if (r.bad_version) {
    spdlog::error("event=lower_watch_failed reason=metadata_version");
    broken_.store(true);
    on_lost_();
    return;
  }
  if (r.overflow) {
    spdlog::warn("event=lower_watch_overflow (every cached listing is dropped)");
    on_lost_();
  }
}

}  // namespace dfs::fs
