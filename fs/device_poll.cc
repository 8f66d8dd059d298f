#include "fs/device_poll.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <unistd.h>

#include <charconv>

#include "common/fd.h"

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

std::optional<int> RunnableTasks(std::string_view loadavg) {
  // "0.52 0.58 0.59 3/812 12345": three averages, then runnable/total, then the last pid.
  size_t pos = 0;
  for (int field = 0; field < 3; ++field) {
    pos = loadavg.find(' ', pos);
    if (pos == std::string_view::npos) return std::nullopt;
    ++pos;
  }
  int runnable = 0;
  const char* first = loadavg.data() + pos;
  const char* last = loadavg.data() + loadavg.size();
  auto [end, ec] = std::from_chars(first, last, runnable);
  if (ec != std::errc() || end == first || end == last || *end != '/' || runnable < 0) {
    return std::nullopt;
  }
  return runnable;
}

namespace {

int UsableCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

// Per session thread: its /proc/loadavg descriptor (read again with pread, no open per look) and
// the last verdict.
struct LoadWatch {
  Fd loadavg{open("/proc/loadavg", O_RDONLY | O_CLOEXEC)};
  int cpus = UsableCpus();
  std::chrono::steady_clock::time_point next_check{};
  bool busy = false;
};

}  // namespace

std::chrono::microseconds PollBudget(std::chrono::microseconds configured) {
  if (configured.count() == 0) return configured;
  thread_local LoadWatch watch;
  if (!watch.loadavg) return configured;
  const auto now = std::chrono::steady_clock::now();
  if (now >= watch.next_check) {
    watch.next_check = now + kBusyCheckInterval;
    char buf[128];
    ssize_t n = pread(watch.loadavg.get(), buf, sizeof buf - 1, 0);
    std::optional<int> runnable =
        n > 0 ? RunnableTasks(std::string_view(buf, static_cast<size_t>(n))) : std::nullopt;
    watch.busy = runnable && HostOversubscribed(*runnable, watch.cpus);
  }
  return watch.busy ? std::chrono::microseconds{0} : configured;
}

}  // namespace dfs::fs
