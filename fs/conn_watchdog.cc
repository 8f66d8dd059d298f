#include "fs/conn_watchdog.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/proc_stat.h"

namespace dfs::fs {

namespace {

constexpr const char* kControlDir = "/sys/fs/fuse/connections";

// Whether the process `path` (/proc/PID/stat) has no live main thread: gone, or a zombie (its
// main thread exited while another thread lives on). Async-signal-safe (runs in the child).
bool MainThreadGone(const char* path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return true;
  char buf[1024];
  ssize_t n = read(fd, buf, sizeof(buf));
  close(fd);
  if (n <= 0) return true;
  ProcStat st;
  if (!ParseProcStat(buf, static_cast<size_t>(n), &st)) return false;
  return st.state == 'Z' || st.state == 'X';
}

// The argument that makes the binary the watchdog, and where the abort file is in it.
constexpr const char* kWatchdogArg = "--digestfs-connection-watchdog";
constexpr int kAbortFd = 3;

// The watchdog (a new image; descriptors 0-2 /dev/null, kAbortFd the abort file, no other; SIGTERM
// blocked): waits for SIGTERM (the parent thread's death, PR_SET_PDEATHSIG, or a stray one) and
// aborts the connection if the daemon's main thread is gone.
[[noreturn]] void WatchdogMain(const char* daemon_pid) {
  char stat_path[64];
  const size_t digits = strspn(daemon_pid, "0123456789");
  if (digits == 0 || digits > 10 || daemon_pid[digits] != '\0' || fcntl(kAbortFd, F_GETFD) < 0) {
    _exit(2);  // not started by ConnectionWatchdog::Start
  }
  std::snprintf(stat_path, sizeof stat_path, "/proc/%s/stat", daemon_pid);
  prctl(PR_SET_NAME, "digestfs-watch", 0, 0, 0);
  sigset_t wait_set;
  sigemptyset(&wait_set);
  sigaddset(&wait_set, SIGTERM);
  sigprocmask(SIG_BLOCK, &wait_set, nullptr);  // already blocked by the spawn; made sure
  if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) != 0) _exit(1);
  for (bool first = true;; first = false) {
    // The first check covers a death before PR_SET_PDEATHSIG took effect.
    if (!first) {
      siginfo_t si;
      if (sigwaitinfo(&wait_set, &si) < 0) continue;
    }
    if (MainThreadGone(stat_path)) {
      if (write(kAbortFd, "1", 1) < 0) {
        // The connection is already gone (ENOTCONN): nothing left to abort.
      }
      _exit(0);
    }
  }
}

// posix_spawn's attribute and file-action objects, destroyed on every path.
struct SpawnSetup {
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  bool fa_ok = false, attr_ok = false;
  SpawnSetup() {
    fa_ok = posix_spawn_file_actions_init(&fa) == 0;
    attr_ok = posix_spawnattr_init(&attr) == 0;
  }
  ~SpawnSetup() {
    if (fa_ok) posix_spawn_file_actions_destroy(&fa);
    if (attr_ok) posix_spawnattr_destroy(&attr);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

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
  // Above the descriptors the spawn sets up (0-2, kAbortFd), so that dup2 moves it into place.
  {
    int high = fcntl(abort_fd, F_DUPFD_CLOEXEC, kAbortFd + 1);
    int err = errno;
    close(abort_fd);
    if (high < 0) return Status::FromErrno(err, "watchdog: " + abort_path);
    abort_fd = high;
  }
  std::string arg0 = "digestfs-watch", arg1 = kWatchdogArg, arg2 = std::to_string(getpid());
  char* const argv[] = {arg0.data(), arg1.data(), arg2.data(), nullptr};
  char* const envp[] = {nullptr};
  SpawnSetup sp;
  sigset_t blocked, defaults;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGTERM);  // taken by sigwaitinfo in the watchdog, never by a handler
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGTERM);
  pid_t pid = -1;
  int rc = !sp.fa_ok || !sp.attr_ok ? ENOMEM : 0;
  // Nothing of the daemon's but the abort file: above all not /dev/fuse, which would keep the
  // connection up.
  if (rc == 0) rc = posix_spawn_file_actions_addopen(&sp.fa, 0, "/dev/null", O_RDWR, 0);
  if (rc == 0) rc = posix_spawn_file_actions_adddup2(&sp.fa, 0, 1);
  if (rc == 0) rc = posix_spawn_file_actions_adddup2(&sp.fa, 0, 2);
  if (rc == 0) rc = posix_spawn_file_actions_adddup2(&sp.fa, abort_fd, kAbortFd);
  if (rc == 0) rc = posix_spawn_file_actions_addclosefrom_np(&sp.fa, kAbortFd + 1);
  if (rc == 0) {
    rc = posix_spawnattr_setflags(&sp.attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  }
  if (rc == 0) rc = posix_spawnattr_setsigmask(&sp.attr, &blocked);
  if (rc == 0) rc = posix_spawnattr_setsigdefault(&sp.attr, &defaults);
  // The calling thread becomes the watchdog's parent thread: its death is what PR_SET_PDEATHSIG
  // reports (hence: the main thread calls Start).
  if (rc == 0) rc = posix_spawn(&pid, "/proc/self/exe", &sp.fa, &sp.attr, argv, envp);
  close(abort_fd);
  if (rc != 0) return Status::FromErrno(rc, "watchdog: starting /proc/self/exe");
  pid_ = pid;
  return Status::Ok();
}

void ConnectionWatchdog::RunIfRequested(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], kWatchdogArg) == 0) WatchdogMain(argv[2]);
}

void ConnectionWatchdog::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

}  // namespace dfs::fs
