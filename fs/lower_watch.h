// fs/lower_watch.h: changes made beneath the mount, as the kernel reports them (fanotify), so that
// the daemon can drop the kernel's cached names and listings of the mount when a change happens
// instead of when a timeout runs out (the watch= mount option; docs/mount.md, "Watching the lower
// tree").
//
// A LowerWatch marks whole file systems (FAN_MARK_FILESYSTEM) for the directory-entry events (a
// name created, deleted, moved from or to a directory: the directory's listing changed) and for
// changes of an object's attributes or of a file closed after writing (the name's attributes
// changed), and reports each as (the directory's stat, the name, whether the listing changed) on
// its own thread. Changes made by this process itself are not reported: the
// kernel sees those through the mount already. If the kernel's queue overflowed, events were lost
// and on_lost() is called instead: the caller must then assume every directory changed.
//
// Needs CAP_SYS_ADMIN (filesystem marks) and CAP_DAC_READ_SEARCH (open_by_handle_at, to learn
// which directory an event names), Linux 5.9 or later, and file systems that report file handles
// (ext4, xfs, btrfs, tmpfs since 6.6; not overlayfs without nfs_export, nor FUSE).
//
// Thread safety: Watch() and Watches() may be called from any thread; the callbacks run on the
// watch thread, one at a time, and must not call back into the LowerWatch.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include "common/fd.h"
#include "common/status.h"

namespace dfs::fs {

// One directory entry named by a fanotify event (FAN_REPORT_DFID_NAME): the file system's id, the
// directory's handle and the entry's name, pointing into the buffer that was parsed.
struct FanotifyEntry {
  const unsigned char* fsid = nullptr;  // 8 bytes
  // A struct file_handle (header and handle_bytes), unaligned: copy it out before use.
  const unsigned char* handle = nullptr;
  size_t handle_size = 0;        // sizeof(struct file_handle) + its handle_bytes
  std::string_view name;         // the entry's name as the kernel reported it (up to its NUL)
  bool listing_changed = false;  // a name was created, deleted or moved (else: attributes)
};

// What ParseFanotifyEvents saw besides entries.
struct FanotifyParse {
  uint64_t events = 0;       // well-formed events read (self-made ones included)
  bool overflow = false;     // the kernel's queue overflowed: events were lost
  bool bad_version = false;  // a metadata version this build does not know: nothing after it read
};

// Parses a buffer read from a fanotify group made with FAN_REPORT_DFID_NAME, as the kernel's
// include/uapi/linux/fanotify.h lays it out. Calls on_entry for each directory handle and name of
// an event not made by the process `self`. Never reads outside [buf, buf + len), whatever the bytes
// (the buffer need not be aligned); an event or info record whose length does not fit ends the
// parse (the rest of the buffer is ignored), an info record of another type is skipped.
FanotifyParse ParseFanotifyEvents(const char* buf, size_t len, pid_t self,
                                  const std::function<void(const FanotifyEntry&)>& on_entry);

class LowerWatch {
 public:
  using OnChange =
      std::function<void(const struct stat& dir, std::string_view name, bool listing_changed)>;
  using OnLost = std::function<void()>;

  // Creates the fanotify group and starts the watch thread (no file system marked yet).
  // Errors: kPermissionDenied without CAP_SYS_ADMIN; kUnsupported if the kernel lacks
  // directory-entry events with names; other failures as kIo.
  static Result<std::unique_ptr<LowerWatch>> Start(OnChange on_change, OnLost on_lost);
  ~LowerWatch();  // stops the thread; no callback runs after it returns
  LowerWatch(const LowerWatch&) = delete;
  LowerWatch& operator=(const LowerWatch&) = delete;

  // Marks the file system holding the directory `fd` (O_PATH allowed). With `hold`, the directory
  // is opened and kept open for decoding the handles events carry (which keeps its mount busy);
  // without, nothing of it is kept, and its events are dropped until Watches() is given a
  // directory on it: a file system mounted beneath the lower root stays unmountable as long as
  // nothing on it was looked up (the kernel can then hold nothing of it either). Marking the same
  // file system again is a no-op. Errors: the file system does not report file handles
  // (kUnsupported), or marking failed (named errno).
  Status Watch(int fd, bool hold = true);
  // Whether the file system with device `dev` is marked and the watch still works (false for
  // every device once reading events failed: nothing is reported after that). Given `dir_fd`, a
  // directory on that device (O_PATH allowed), a file system marked without a hold is marked again
  // through it (its device number may belong to a file system mounted since) and held from then
  // on; if that fails, it counts as not marked and is forgotten.
  bool Watches(dev_t dev, int dir_fd = -1);

  // Whether events are still read (false once reading them failed).
  bool working() const { return !broken_.load(std::memory_order_relaxed); }
  // Events read from the kernel so far (logs, tests).
  uint64_t events() const { return events_.load(std::memory_order_relaxed); }

 private:
  LowerWatch(Fd fan, Fd stop, OnChange on_change, OnLost on_lost);
  void Loop();
  // Handles one buffer of events read from the group.
  void Handle(const char* buf, size_t len);
  // The descriptor marked for the file system with this fsid, or -1.
  int MountFdFor(const void* fsid);
  // Adds the mark of the file system holding the open directory `dir`; errors as Watch().
  static Status Mark(int fan, int dir, dev_t dev);

  struct Marked {
    dev_t dev;
    unsigned char fsid[8];
    Fd fd;  // an open directory on it, for open_by_handle_at (empty: not held yet)
  };

  Fd fan_;
  Fd stop_;  // an eventfd: written by the destructor
  OnChange on_change_;
  OnLost on_lost_;
  std::mutex mu_;  // guards marked_
  std::vector<Marked> marked_;
  // A directory handle decoded while handling one buffer (pointing into it).
  struct Decoded {
    const unsigned char* fsid;
    const unsigned char* handle;
    size_t handle_size;
    bool found;  // the directory still exists: st is its stat
    struct stat st;
  };
  std::vector<Decoded> decoded_;  // the watch thread's own, reused from buffer to buffer
  std::atomic<uint64_t> events_{0};
  std::atomic<bool> broken_{false};
  std::atomic<bool> stopping_{false};  // set by the destructor: the thread returns
  std::thread thread_;
};

}  // namespace dfs::fs
