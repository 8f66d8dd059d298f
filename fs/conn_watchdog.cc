#include "fs/conn_watchdog.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace dfs::fs {

namespace {

constexpr const char* kControlDir = "/sys/fs/fuse/connections";

// Whether the process `path` (/proc/PID/stat) has no live main thread: gone, or a zombie (its
// main thread exited while another thread lives on). Async-signal-safe (runs in the child).
bool MainThreadGone(const char* path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return true;
  char buf[512];
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return true;
  buf[n] = '\0';
  // "PID (COMM) STATE ...": COMM may hold spaces and parentheses; the state follows the last ')'.
  const char* close_paren = strrchr(buf, ')');
  if (close_paren == nullptr || close_paren[1] != ' ') return false;
  char state = close_paren[2];
  return state == 'Z' || state == 'X';
}

// The child: waits for SIGTERM (the parent thread's death, PR_SET_PDEATHSIG, or a stray one) and
// aborts the connection if the daemon's main thread is gone. Only async-signal-safe calls.
[[noreturn]] void WatchdogMain(int abort_fd, const char* stat_path,
                               const sigset_t& wait_set) {
  int null_fd = open("/dev/null", O_RDWR);
  if (null_fd >= 0) {
    dup2(null_fd, 0);
    dup2(null_fd, 1);
    dup2(null_fd, 2);
  }
  // Nothing else of the daemon's: above all not /dev/fuse, which would keep the connection up.
  if (abort_fd > 3) close_range(3, abort_fd - 1, 0);
  close_range(abort_fd + 1, ~0U, 0);
  prctl(PR_SET_NAME, "digestfs-watch", 0, 0, 0);
  if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) != 0) _exit(1);
  for (bool first = true;; first = false) {
    // The first check covers a death before PR_SET_PDEATHSIG took effect.
    if (!first) {
      siginfo_t si;
      if (sigwaitinfo(&wait_set, &si) < 0) continue;
    }
    if (MainThreadGone(stat_path)) {
      if (write(abort_fd, "1", 1) < 0) {
        // The connection is already gone (ENOTCONN): nothing left to abort.
      }
      _exit(0);
    }
  }
}

}  // namespace

Status ConnectionWatchdog::Start(const std::string& majmin) {
  if (pid_ > 0) return Status::Ok();
  unsigned major = 0, minor = 0;
  if (std::sscanf(majmin.c_str(), "%u:%u", &major, &minor) != 2 || major != 0) {
    return Status(Code::kInvalidArgument, "watchdog: unexpected FUSE device " + majmin);
  }
  // The control file system names a connection by its device number (major 0: the minor).
  const std::string abort_path = std::string(kControlDir) + "/" + std::to_string(minor) + "/abort";
  int abort_fd = open(abort_path.c_str(), O_WRONLY | O_CLOEXEC);
  if (abort_fd < 0 && errno == ENOENT) {
    // Not mounted yet (systemd mounts it at boot; a minimal host may not have).
    if (mount("fusectl", kControlDir, "fusectl", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0 &&
        errno != EBUSY) {
      return Status::FromErrno(errno, std::string("watchdog: mounting fusectl on ") + kControlDir);
    }
    abort_fd = open(abort_path.c_str(), O_WRONLY | O_CLOEXEC);
  }
  if (abort_fd < 0) return Status::FromErrno(errno, "watchdog: " + abort_path);
  if (abort_fd < 3) {
    // The child puts /dev/null on 0-2: keep the abort file above them (a daemon whose standard
    // descriptors were closed gets one of those numbers from open()).
    int high = fcntl(abort_fd, F_DUPFD_CLOEXEC, 3);
    int err = errno;
    close(abort_fd);
    if (high < 0) return Status::FromErrno(err, "watchdog: " + abort_path);
    abort_fd = high;
  }
  const pid_t self = getpid();
  const std::string stat_path = "/proc/" + std::to_string(self) + "/stat";
  sigset_t wait_set, old;
  sigemptyset(&wait_set);
  sigaddset(&wait_set, SIGTERM);
  // Blocked across the fork so that the child inherits it blocked and takes it by sigwaitinfo.
  pthread_sigmask(SIG_BLOCK, &wait_set, &old);
  pid_t pid = fork();
  if (pid == 0) WatchdogMain(abort_fd, stat_path.c_str(), wait_set);
  int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  close(abort_fd);
  if (pid < 0) return Status::FromErrno(fork_errno, "watchdog: fork");
  pid_ = pid;
  return Status::Ok();
}

void ConnectionWatchdog::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

}  // namespace dfs::fs
