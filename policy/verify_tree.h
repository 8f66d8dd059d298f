// policy/verify_tree.h: the offline check behind `digestctl verify-tree DIR` (like `aide --check`):
// every regular file of a tree gets the decision a mount of that tree would make at open
// (Enforcer::Assess, the same code), for op=read and, for files with an execute bit, op=exec.
//
// The walk is openat-based relative to directory fds, with O_NOFOLLOW everywhere below DIR:
// symbolic links are never followed (they are counted, not checked), so a link cannot lead the
// walk out of the tree. Files are opened O_NONBLOCK and checked with fstat to be regular before
// anything is read. Assessments run on `threads` worker threads; the walk itself is one thread.
//
// Thread safety: VerifyTree may be called from one thread at a time per Enforcer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "policy/pipeline.h"

namespace dfs {

struct VerifyTreeOptions {
  std::string prefix;  // the path DIR has in the mount ("" = DIR is the mount root)
  uint32_t uid = 0;    // the uid that opens the files (for uid= conditions)
  int threads = 2;
  bool one_file_system = false;  // do not descend into directories on another device
};

struct TreeFinding {
  std::string path;  // as the mount would see it
  AccessOp op = AccessOp::kRead;
  Refusal refusal = Refusal::kNone;  // kNone for an audit finding
  int rule = 0;                      // the deciding rule's line, 0 if none
  std::string reason;
  std::string digest = "-";  // "sha256:..." or "-"
};

struct TreeSummary {
  uint64_t files = 0;     // regular files found
  uint64_t checked = 0;   // regular files some family applied to (for at least one op)
  uint64_t skipped = 0;   // entries that are not regular files, directories or links
  uint64_t symlinks = 0;  // symbolic links (never followed)
  uint64_t errors = 0;    // entries that could not be opened or read (also in `refused`)
  uint64_t bytes_hashed = 0;
  uint64_t hashes = 0;
  std::vector<TreeFinding> refused;  // sorted by path, then op
  std::vector<TreeFinding> audited;  // unknown content under an audit rule; sorted
  double seconds = 0;
};

// Walks `dir`. Fails only if `dir` itself cannot be opened as a directory; everything below is
// reported in the summary.
Result<TreeSummary> VerifyTree(Enforcer& enforcer, const std::string& dir,
                               const VerifyTreeOptions& opts);

}  // namespace dfs
