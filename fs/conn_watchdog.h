// fs/conn_watchdog.h: a small process that aborts the mount's FUSE connection when the daemon's
// main thread dies and the daemon cannot finish dying.
//
// The kernel aborts a FUSE connection (every waiting request fails with ENOTCONN) when the last
// descriptor of its /dev/fuse is closed. A daemon killed with SIGKILL closes it only once all its
// threads have exited, and a thread waiting uninterruptibly in the kernel never does if what it
// waits for needs the daemon: the invalidation thread dropping a file's cached pages
// (fuse_lowlevel_notify_inval_inode) waits for a page a reader has locked while its READ is
// outstanding, and nobody will answer that READ. The mount and every process using it then hang
// for ever (docs/mount.md, "Known limits"). The watchdog is forked by the main thread after the
// mount, holds the connection's `abort` file of the fuse control file system
// (/sys/fs/fuse/connections/MINOR/abort, mounted if it is not) and nothing else, and is told of
// that thread's death by the kernel (PR_SET_PDEATHSIG). If the daemon's main thread is then gone
// (its process a zombie, or gone), it writes the abort file; the stuck thread's wait ends with the
// READ's failure and the daemon exits. A stray signal (pkill) with the daemon alive does nothing.
//
// The watchdog is not a fork of the daemon but a new image of the daemon's own binary
// (posix_spawn of /proc/self/exe with RunIfRequested's argument): a forked child would share the
// daemon's memory copy-on-write for as long as it lives, so that the daemon's first write to each
// page it had touched before (its buffers, prepared for the first opens; its heap) would be a page
// fault again: measured, 600-1000 faults (10 us each on the 2-vCPU VMs) in the first
// `python3 -c 1` through a fresh mount, against 8 without the fork (docs/benchmarks.md).
// The abort file names exactly this connection: once the connection is gone, a write to it fails
// (ENOTCONN), also if a new mount has since been given the same device number.
//
// Thread safety: Start and Stop are called by the main thread only.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/status.h"

namespace dfs::fs {

class ConnectionWatchdog {
 public:
  ConnectionWatchdog() = default;
  ConnectionWatchdog(const ConnectionWatchdog&) = delete;
  ConnectionWatchdog& operator=(const ConnectionWatchdog&) = delete;
  ~ConnectionWatchdog() { Stop(); }

  // Starts watching the FUSE connection of the mount with device `majmin` ("0:40"). Must be
  // called by the thread whose death is the daemon's (the main thread), after any fork into the
  // background. Needs root (the control files are root's); fails, changing nothing, otherwise.
  // Errors: kInvalidArgument (majmin is not a FUSE device), kIo with errno (the abort file cannot
  // be opened, fusectl cannot be mounted, the spawn fails).
  Status Start(const std::string& majmin);
  // Ends the watchdog without aborting anything (a normal exit). Also done by the destructor.
  void Stop();
  pid_t pid() const { return pid_; }

  // The watchdog's entry point: a program that may call Start() (through fs::RunMount) calls this
  // first thing in main(). If argv is the watchdog's (argv[1] is the private argument Start()
  // passes), it runs the watchdog and exits; else it returns at once.
  static void RunIfRequested(int argc, char** argv);

 private:
  pid_t pid_ = -1;
};

}  // namespace dfs::fs
