#include "fs/device_poll.h"

#include <poll.h>
#include <sched.h>

namespace dfs::fs {

bool PollReadable(int fd, std::chrono::microseconds budget) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point deadline = Clock::now() + budget;
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    // EINTR and other poll failures count as "not yet": the caller's read() sorts them out.
    if (poll(&p, 1, 0) > 0) return true;
    if (Clock::now() >= deadline) return false;
    sched_yield();
  }
}

}  // namespace dfs::fs
