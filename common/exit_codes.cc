#include "common/exit_codes.h"

namespace dfs {

int ExitCodeFor(const Status& s) {
  switch (s.code()) {
    case Code::kOk: return kExitOk;
    case Code::kInvalidArgument: return kExitUsage;
    case Code::kNotFound:
    case Code::kPermissionDenied:
    case Code::kExists: return kExitProblem;
    case Code::kBadSignature:
    case Code::kNoKey:
    case Code::kUnsigned: return kExitSignature;
    case Code::kCorrupt:
    case Code::kVersion: return kExitStore;
    default: return kExitRuntime;
  }
}

}  // namespace dfs
