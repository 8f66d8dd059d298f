// common/proc_stat.h: what /proc says of a process, for telling a live daemon from a dead one
// whose process ID was given to another process, or that is a zombie not yet reaped.
// All functions are thread-safe (each reads /proc afresh and keeps no state).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "common/status.h"

namespace dfs {

struct ProcStat {
  char state = '?';          // R, S, D, Z, X, ... (proc(5), field 3)
  uint64_t start_ticks = 0;  // start time after boot in clock ticks (field 22), as seen from
                             // the reader's time namespace
};

// Parses the text of a /proc/PID/stat file (`n` bytes at `text`, not NUL-terminated) into *out;
// false if it is not of the form proc(5) gives. Fields are counted from the last ")". Allocates
// nothing and calls nothing but memory reads (async-signal-safe).
bool ParseProcStat(const char* text, size_t n, ProcStat* out);

// /proc/PID/stat of PID. The command name (field 2) may hold any bytes, ")", spaces and newlines
// included; fields are counted from the last ")". Errors: kNotFound (no such process, or one
// /proc hides from this caller: hidepid=2), kPermissionDenied (hidepid=1, ProtectProc=), kCorrupt
// (not the form proc(5) gives), kIo.
Result<ProcStat> ReadProcStat(pid_t pid);

// The namespace of this process that NAME (as in /proc/self/ns/NAME: "pid", "time") names, as
// its link reads ("time:[4026531834]"); nullopt where the kernel has no such namespace.
std::optional<std::string> OwnNamespace(const char* name);

enum class Liveness {
  kRunning,  // the ID runs a process that is not a zombie (and started at start_ticks if given)
  kGone,     // no such process, a zombie, or a process that started at another time
  kUnknown,  // a process with the ID exists but /proc does not show it to this caller
};

// Whether PID still names the process that started at start_ticks (when given; in ticks of the
// caller's time namespace). Where /proc hides the process, a signal 0 tells only that the ID is
// in use: kUnknown.
Liveness ProcessLiveness(pid_t pid, std::optional<uint64_t> start_ticks);

}  // namespace dfs
