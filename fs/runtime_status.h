// fs/runtime_status.h: the file a running digestfs daemon publishes about its mount, read by
// `digestctl status MOUNTPOINT` (docs/mount.md, "Runtime status").
//
//   /run/digestfs/MAJ:MIN.json   (MAJ:MIN: the mount's device number, as in /proc/self/mountinfo)
//   {"version":1,"pid":N,"source":"...","mountpoint":"...","mode":"enforce|permissive|off",
//    "verify":"open|blocks","store":"...","policy":"...","started":UNIX_SECONDS,
//    "updated":UNIX_SECONDS,"uptime_seconds":N,"counters":{"opens":N,...},
//    "fuse_requests":{"lookup":N,...}}
//
// Written (atomically: temp file + rename) once mounted, again every status_interval= seconds and
// at SIGUSR1 (ControlThread), removed when the daemon unmounts (unless another daemon has put its
// own in its place: see Remove()). Invalid UTF-8 in paths is replaced by U+FFFD in the file. Only a
// root daemon writes it.
//
// Thread safety: one RuntimeStatus is used by one thread at a time.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fs/options.h"

namespace dfs::fs {

inline constexpr const char* kRuntimeDir = "/run/digestfs";

// What the daemon counted since it started (monotonic, except gauges named *_entries).
struct CounterSnapshot {
  std::vector<std::pair<std::string, uint64_t>> counters;       // Gate::Counters and the daemon's
  std::vector<std::pair<std::string, uint64_t>> fuse_requests;  // per opcode (OpCounters)
  // Session threads' reads of the FUSE device by whether they polled first (KernelPassthrough::
  // PollCounts; "polled", "not_polled_busy", "not_polled_wake_here"); empty without polling.
  std::vector<std::pair<std::string, uint64_t>> device_reads;
  // The watch of the lower tree (watch=; Passthrough::StartWatch): whether it runs, whether
  // directory opens are left to the kernel, and the changes it has read.
  bool watch_active = false;
  bool watch_no_opendir = false;
  uint64_t watch_events = 0;
};

class RuntimeStatus {
 public:
  // Sets what is published for the mount with device `majmin`; nothing is written yet.
  void Init(const std::string& majmin, const MountOptions& opts, const std::string& mountpoint);
  // The polling the session threads do (the budget installed, zero if none; whether it follows
  // the kernel's fuse.wake_here), published as "polling"; before Init, what `opts` asked for.
  void SetPolling(int64_t poll_us, bool follows_kernel) {
    poll_us_ = poll_us;
    poll_follows_kernel_ = follows_kernel;
  }
  // Writes the file with `counters` (atomically); failures are logged, not fatal. No-op before
  // Init().
  void Publish(const CounterSnapshot& counters);
  // Removes the file if it is still the one this object wrote (also done by the destructor).
  // Publish() too leaves alone a file another daemon has put in its place: after this mount is
  // gone the kernel may give its device number, and so the file name, to a new mount.
  void Remove();
  ~RuntimeStatus() { Remove(); }

 private:
  std::string path_;  // empty before Init()
  // True if the file at path_ is absent or is the one this object last wrote (device and inode).
  bool StillOurs() const;

  bool written_ = false;
  dev_t written_dev_ = 0;
  ino_t written_ino_ = 0;
  std::string source_, mountpoint_, mode_, verify_, store_, policy_, watch_option_;
  int64_t poll_us_ = 0;
  bool poll_follows_kernel_ = false;
  int64_t started_ = 0;
  struct timespec started_mono_ {};
  // This process as a reader of the file tells it from a later one with its ID: its start time
  // and the namespaces they are read in (common/proc_stat.h). Read at the first Publish, in the
  // daemon (after any fork); null where unknown.
  bool identity_read_ = false;
  std::optional<uint64_t> start_ticks_;
  std::optional<std::string> pid_ns_, time_ns_;
};

}  // namespace dfs::fs
