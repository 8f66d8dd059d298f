// common/proc_stat.h: what /proc/PID/stat says of a process, for telling a live daemon from a dead
// one whose process ID was given to another process (or that is a zombie not yet reaped).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

namespace dfs {

struct ProcStat {
  char state = '?';          // R, S, D, Z, X, ... (proc(5), field 3)
  uint64_t start_ticks = 0;  // start time after boot in clock ticks (field 22)
};

// /proc/PID/stat of PID, or nullopt if it cannot be read (no such process) or does not parse.
// The command name (field 2) may hold any bytes, ")" and spaces included; fields are counted from
// the last ")".
std::optional<ProcStat> ReadProcStat(pid_t pid);

// The process ID still names a running process (not a zombie, not dead) whose start time is
// start_ticks (when known: a process started later got the ID of the one that ended).
bool ProcessRunning(pid_t pid, std::optional<uint64_t> start_ticks);

}  // namespace dfs
