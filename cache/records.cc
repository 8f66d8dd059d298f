#include "cache/records.h"

namespace dfs {

const char* SourceKindName(SourceKind k) {
  switch (k) {
    case SourceKind::kRpm: return "rpm";
    case SourceKind::kTlv: return "tlv";
    case SourceKind::kManifest: return "manifest";
    case SourceKind::kLocal: return "local";
  }
  return "unknown";
}

const char* SourceStateName(SourceState s) {
  switch (s) {
    case SourceState::kActive: return "active";
    case SourceState::kSuperseded: return "superseded";
    case SourceState::kRemoved: return "removed";
  }
  return "unknown";
}

}  // namespace dfs
