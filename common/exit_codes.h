// common/exit_codes.h: process exit codes shared by digestfs and digestctl (docs/cli.md).
#pragma once

#include "common/status.h"

namespace dfs {

inline constexpr int kExitOk = 0;          // success
inline constexpr int kExitProblem = 1;     // a check ran and found a problem (refusal, mismatch, not found)
inline constexpr int kExitUsage = 2;       // bad command line, bad policy or other input syntax
inline constexpr int kExitStore = 3;       // the store cannot be opened: missing, corrupt, wrong version
inline constexpr int kExitSignature = 4;   // an input was refused for its signature or keys
inline constexpr int kExitRuntime = 5;     // an OS, I/O, TPM or other runtime failure

// The exit code that best describes a failed Status.
int ExitCodeFor(const Status& s);

}  // namespace dfs
