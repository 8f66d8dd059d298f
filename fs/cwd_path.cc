// fs/cwd_path.cc: see cwd_path.h.
#include "fs/cwd_path.h"

#include <fcntl.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

namespace dfs::fs {

namespace {

std::atomic<int> g_home{-1};  // O_PATH descriptor of the working directory; open for good

// Back to the home directory after a fchdir elsewhere; false if the thread could not get there
// (it is then moved to "/", never left in a lower directory, and stops using CwdPath).
bool ReturnHome(int home) {
  if (fchdir(home) == 0) return true;
  int err = errno;
  int rc = chdir("/");
  static std::atomic<bool> logged{false};
  if (!logged.exchange(true)) {
    spdlog::warn("event=cwd_path_disabled thread_tid={} errno={} moved_to_root={}", gettid(), err,
                 rc == 0);
  }
  return false;
}

}  // namespace

bool InitCwdHome() {
  if (g_home.load(std::memory_order_acquire) >= 0) return true;
  int fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  int expected = -1;
  if (!g_home.compare_exchange_strong(expected, fd, std::memory_order_acq_rel)) close(fd);
  return true;
}

ssize_t CwdPath(int dirfd, char* buf, size_t size) {
  thread_local int state = 0;  // 0: not tried; 1: own fs_struct, at home; -1: not in this thread
  const int home = g_home.load(std::memory_order_acquire);
  if (home < 0) return kNoCwdPath;
  if (state == 0) {
    // Its own copy first, then the common working directory: the copy may be of a creator's
    // fs_struct caught between the fchdir calls below.
    state = unshare(CLONE_FS) == 0 && ReturnHome(home) ? 1 : -1;
  }
  if (state < 0 || fchdir(dirfd) != 0) return kNoCwdPath;
  // The raw system call: glibc's getcwd() walks ".." itself when the kernel says ENAMETOOLONG.
  long n = syscall(SYS_getcwd, buf, size);
  int saved = errno;
  if (!ReturnHome(home)) state = -1;
  if (n < 0) {
    errno = saved == ERANGE ? ENAMETOOLONG : saved;
    return -1;
  }
  // The system call counts the terminating NUL; anything but an absolute path is "(unreachable)".
  if (n <= 1 || buf[0] != '/') return kNoCwdPath;
  return static_cast<ssize_t>(n - 1);
}

}  // namespace dfs::fs
