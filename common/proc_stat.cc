// common/proc_stat.cc: see proc_stat.h.
#include "common/proc_stat.h"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

namespace dfs {

std::optional<ProcStat> ReadProcStat(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(close + 1));
  ProcStat out;
  std::string field;
  // After ")": field 3 (state) is the first, field 22 (starttime) the twentieth.
  for (int i = 3; i <= 22; ++i) {
    if (!(rest >> field)) return std::nullopt;
    if (i == 3) {
      if (field.size() != 1) return std::nullopt;
      out.state = field[0];
    }
  }
  try {
    size_t used = 0;
    out.start_ticks = std::stoull(field, &used);
    if (used != field.size()) return std::nullopt;
  } catch (...) {
    return std::nullopt;
  }
  return out;
}

bool ProcessRunning(pid_t pid, std::optional<uint64_t> start_ticks) {
  const auto st = ReadProcStat(pid);
  if (!st || st->state == 'Z' || st->state == 'X' || st->state == 'x') return false;
  return !start_ticks || st->start_ticks == *start_ticks;
}

}  // namespace dfs
