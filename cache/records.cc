#include "cache/records.h"

namespace dfs {

const char* SourceKindName(SourceKind k) {
  switch (k) {
    case SourceKind::kRpm: return "rpm";
    case SourceKind::kTlv: return "tlv";
    case SourceKind::kManifest: return "manifest";
    case SourceKind::kLocal: return "local";
    case SourceKind::kDeb: return "deb";
  }
  return "unknown";
}

bool IsPackageKind(SourceKind k) { return k == SourceKind::kRpm || k == SourceKind::kDeb; }

const char* SourceStateName(SourceState s) {
  switch (s) {
    case SourceState::kActive: return "active";
    case SourceState::kSuperseded: return "superseded";
    case SourceState::kRemoved: return "removed";
  }
  return "unknown";
}

}  // namespace dfs
