#include "fs/device_poll.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <unistd.h>

#include <charconv>
#include <string>

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

std::optional<bool> ParseKernelBool(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  if (text == "Y" || text == "y" || text == "1") return true;
  if (text == "N" || text == "n" || text == "0") return false;
  return std::nullopt;
}

namespace {

int UsableCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

// Per session thread: its /proc/loadavg descriptor and that of the wake_here parameter (read
// again with pread, no open per look), and the last verdicts.
struct LoadWatch {
  Fd loadavg{open("/proc/loadavg", O_RDONLY | O_CLOEXEC)};
  int cpus = UsableCpus();
  std::chrono::steady_clock::time_point next_check{};
  bool busy = false;
  std::string wake_here_path;  // the path wake_here was opened from (empty: not yet)
  Fd wake_here;
  bool kernel_wakes_here = false;
};

// Reads the whole (short) text of `fd` from its start; nullopt if it cannot.
std::optional<std::string_view> ReadShort(const Fd& fd, char* buf, size_t size) {
  if (!fd) return std::nullopt;
  ssize_t n = pread(fd.get(), buf, size, 0);
  if (n <= 0) return std::nullopt;
  return std::string_view(buf, static_cast<size_t>(n));
}

}  // namespace

std::chrono::microseconds PollBudget(std::chrono::microseconds configured, bool follow_kernel,
                                     const char* wake_here_path, PollChoice* choice) {
  if (configured.count() == 0) return configured;
  thread_local LoadWatch watch;
  if (wake_here_path == nullptr) follow_kernel = false;
  if (follow_kernel && watch.wake_here_path != wake_here_path) {
    // Another file than the one this thread reads (or none yet): open it, and look at once. A
    // file that cannot be opened is tried again at the next look.
    watch.wake_here_path = wake_here_path;
    watch.wake_here.reset();
    watch.next_check = {};
  }
  const auto now = std::chrono::steady_clock::now();
  if (now >= watch.next_check) {
    watch.next_check = now + kBusyCheckInterval;
    char buf[128];
    std::optional<std::string_view> text = ReadShort(watch.loadavg, buf, sizeof buf);
    std::optional<int> runnable = text ? RunnableTasks(*text) : std::nullopt;
    watch.busy = runnable && HostOversubscribed(*runnable, watch.cpus);
    watch.kernel_wakes_here = false;
    if (follow_kernel) {
      if (!watch.wake_here) watch.wake_here.reset(open(wake_here_path, O_RDONLY | O_CLOEXEC));
      std::optional<std::string_view> w = ReadShort(watch.wake_here, buf, sizeof buf);
      watch.kernel_wakes_here = w && ParseKernelBool(*w).value_or(false);
    }
  }
  // What was looked at last, for this call's own arguments (a call that does not follow the
  // kernel never takes its answer from one that did).
  PollChoice c = follow_kernel && watch.kernel_wakes_here ? PollChoice::kKernelWakes
                 : watch.busy                             ? PollChoice::kHostBusy
                                                          : PollChoice::kPolled;
  if (choice != nullptr) *choice = c;
  return c == PollChoice::kPolled ? configured : std::chrono::microseconds{0};
}

}  // namespace dfs::fs
