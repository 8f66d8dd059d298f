// fs/control.h: the daemon's control thread. It owns the runtime status file's schedule and the
// operator's signals:
//   SIGUSR1: rewrite the runtime status file now;
//   SIGHUP:  run the reload callback (policy re-read, log file reopened), then rewrite the file;
//   every `interval` seconds (0: never): rewrite the file.
// The signal handlers only write one byte to a self-pipe (async-signal-safe); everything else runs
// on the control thread. SIGHUP replaces libfuse's handler (which would end the session); SIGINT
// and SIGTERM still unmount.
//
// Thread safety: Start() and Stop() from the session's main thread; the callbacks run on the
// control thread.
#pragma once

#include <functional>
#include <thread>

#include "common/fd.h"
#include "common/status.h"

namespace dfs::fs {

class ControlThread {
 public:
  // Installs the SIGUSR1 and SIGHUP handlers and starts the thread. `publish` is called at once,
  // then on each tick and signal; `reload` at each SIGHUP (before `publish`). kIo if the pipe or
  // the handlers cannot be set up.
  Status Start(unsigned interval_seconds, std::function<void()> publish,
               std::function<void()> reload);
  // Restores the default SIGUSR1/SIGHUP dispositions and joins the thread. Idempotent.
  void Stop();
  ~ControlThread() { Stop(); }

 private:
  void Loop();

  unsigned interval_ = 0;
  std::function<void()> publish_, reload_;
  Fd rd_, wr_;
  std::thread thread_;
};

}  // namespace dfs::fs
