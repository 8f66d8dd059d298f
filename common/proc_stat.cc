// common/proc_stat.cc: see proc_stat.h.
#include "common/proc_stat.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "common/fd.h"

namespace dfs {

bool ParseProcStat(const char* text, size_t n, ProcStat* out) {
  size_t close = n;
  for (size_t i = n; i > 0; --i) {
    if (text[i - 1] == ')') {
      close = i - 1;
      break;
    }
  }
  if (close == n) return false;
  // After ")": " STATE f4 f5 ... f22 ...", fields separated by one space.
  size_t pos = close + 1;
  ProcStat st;
  for (int field = 3; field <= 22; ++field) {
    if (pos >= n || text[pos] != ' ') return false;
    const size_t start = ++pos;
    while (pos < n && text[pos] != ' ' && text[pos] != '\n') ++pos;
    const size_t len = pos - start;
    if (len == 0) return false;
    if (field == 3) {
      if (len != 1) return false;
      st.state = text[start];
    } else if (field == 22) {
      uint64_t v = 0;
      for (size_t k = start; k < pos; ++k) {
        const char c = text[k];
        if (c < '0' || c > '9' || v > (UINT64_MAX - 9) / 10) return false;
        v = v * 10 + static_cast<uint64_t>(c - '0');
      }
      st.start_ticks = v;
    }
  }
  *out = st;
  return true;
}

Result<ProcStat> ReadProcStat(pid_t pid) {
  if (pid <= 0) return Status(Code::kInvalidArgument, "no process " + std::to_string(pid));
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Status::FromErrno(errno, path);
  // The whole file (a few hundred bytes): the name may hold a newline.
  std::string text;
  char buf[1024];
  for (;;) {
    const ssize_t n = read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(errno, path);
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ProcStat out;
  if (!ParseProcStat(text.data(), text.size(), &out)) {
    return Status(Code::kCorrupt, path + ": not of the form proc(5) gives");
  }
  return out;
}

std::optional<std::string> OwnNamespace(const char* name) {
  char buf[128];
  const std::string link = std::string("/proc/self/ns/") + name;
  const ssize_t n = readlink(link.c_str(), buf, sizeof(buf));
  if (n <= 0 || static_cast<size_t>(n) >= sizeof(buf)) return std::nullopt;
  return std::string(buf, static_cast<size_t>(n));
}

Liveness ProcessLiveness(pid_t pid, std::optional<uint64_t> start_ticks) {
  if (pid <= 0) return Liveness::kGone;
  const Result<ProcStat> st = ReadProcStat(pid);
  if (st.ok()) {
    if (st->state == 'Z' || st->state == 'X' || st->state == 'x') return Liveness::kGone;
    return !start_ticks || st->start_ticks == *start_ticks ? Liveness::kRunning : Liveness::kGone;
  }
  // Hidden by /proc (hidepid=, ProtectProc=) or /proc not mounted: the ID's use is all a signal
  // 0 can tell.
  if (kill(pid, 0) == 0 || errno == EPERM) return Liveness::kUnknown;
  return Liveness::kGone;
}

}  // namespace dfs
