// fs/daemon.h: detaching the mount daemon while still reporting the mount's outcome.
//
// Start() forks before anything that needs threads or the mount happens. The parent waits for the
// child's verdict and exits with it: 0 once the file system is mounted, the child's exit code if
// setup fails, 5 (kExitRuntime) if the child dies first. So `mount`/mount.fuse3 see real failures.
// The child continues in a new session; Ready() reports success and detaches stdin/stdout/stderr
// (to /dev/null) and the working directory; Exit-ing before Ready() reports that exit code.
//
// Thread safety: call from the main thread, Start() before any other thread exists.
#pragma once

namespace dfs::fs {

class Daemonizer {
 public:
  // In the parent: never returns. In the child: returns OK; the caller must then call Ready() or
  // Fail(). Returns false (and stays in the foreground) if fork/pipe fail.
  bool Start();
  // Mounted: lets the parent exit 0 and detaches from the terminal.
  void Ready();
  // Setup failed with exit code `code`: the parent exits with it.
  void Fail(int code);
  bool started() const { return fd_ >= 0; }

 private:
  int fd_ = -1;  // write end of the pipe to the waiting parent
};

}  // namespace dfs::fs
