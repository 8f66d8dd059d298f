// common/proc_stat.cc: see proc_stat.h.
#include "common/proc_stat.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <sstream>

#include "common/fd.h"

namespace dfs {

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
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return Status(Code::kCorrupt, path + ": no ')'");
  std::istringstream rest(text.substr(close + 1));
  ProcStat out;
  std::string field;
  // After ")": field 3 (state) is the first, field 22 (starttime) the twentieth.
  for (int i = 3; i <= 22; ++i) {
    if (!(rest >> field)) return Status(Code::kCorrupt, path + ": fewer than 22 fields");
    if (i == 3) {
      if (field.size() != 1) return Status(Code::kCorrupt, path + ": bad state " + field);
      out.state = field[0];
    }
  }
  if (field.empty() || field.find_first_not_of("0123456789") != std::string::npos) {
    return Status(Code::kCorrupt, path + ": bad start time " + field);
  }
  try {
    out.start_ticks = std::stoull(field);
  } catch (...) {
    return Status(Code::kCorrupt, path + ": bad start time " + field);
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
