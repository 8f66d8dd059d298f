// fs/fd_table.cc: see fd_table.h.
#include "fs/fd_table.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace dfs::fs {

Result<size_t> GrowFdTable(size_t slots) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return Status::FromErrno(errno, "getrlimit(RLIMIT_NOFILE)");
  if (rl.rlim_cur != RLIM_INFINITY && slots > rl.rlim_cur) slots = static_cast<size_t>(rl.rlim_cur);
  if (slots == 0) return size_t{0};
  // F_DUPFD takes the lowest free number at or above its argument: the table grows to hold it.
  // Descriptor 0 may be closed (a daemon started with stdin closed): any open one will do.
  int src = -1;
  for (int fd = 0; fd < 3 && src < 0; ++fd) {
    if (fcntl(fd, F_GETFD) >= 0) src = fd;
  }
  bool opened = false;
  if (src < 0) {
    src = open("/", O_PATH | O_CLOEXEC);
    if (src < 0) return Status::FromErrno(errno, "opening / to duplicate");
    opened = true;
  }
  int dup = fcntl(src, F_DUPFD_CLOEXEC, static_cast<int>(slots - 1));
  int err = dup < 0 ? errno : 0;
  if (dup >= 0) close(dup);
  if (opened) close(src);
  if (dup < 0) return Status::FromErrno(err, "growing the descriptor table");
  return std::max(static_cast<size_t>(dup) + 1, slots);
}

}  // namespace dfs::fs
