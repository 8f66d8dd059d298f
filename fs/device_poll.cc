#include "fs/device_poll.h"

#include <poll.h>
#include <sched.h>

namespace dfs::fs {

bool PollReadable(int fd, std::chrono::microseconds budget) {
  using Clock = std::chrono::steady_clock;
  Clock::time_point deadline{};
  for (bool first = true;; first = false) {
    pollfd p{fd, POLLIN, 0};
    // EINTR and other poll failures count as "not yet": the caller's read() sorts them out.
    if (poll(&p, 1, 0) > 0) return true;
    const Clock::time_point now = Clock::now();
    if (first) deadline = now + budget;  // no clock read when a request is already waiting
    if (now >= deadline) return false;
    sched_yield();
  }
}

}  // namespace dfs::fs
