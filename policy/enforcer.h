// policy/enforcer.h: builds the Gate that a digestfs mount runs (policy/gate.h is the contract
// with fs/). This is the only header fs/ needs from policy/.
//
// CreateEnforcer opens the store, parses the policy, creates the measurer and returns a Gate whose
// pipeline is, in IMA's order: decide (policy) -> cached verdict valid? -> hash (single flight
// per inode) -> deny list -> look up (with bind=path: by path too) -> measure -> appraise ->
// audit -> verdict. docs/policy.md gives the semantics.
//
// Ownership: the returned Gate owns its store, measurer and caches. It is thread-safe (gate.h).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "common/status.h"
#include "policy/gate.h"

namespace dfs {

enum class EnforceMode { kEnforce, kPermissive };

// Parses "enforce" / "permissive". kInvalidArgument for anything else ("off" is fs/'s business:
// with mode=off no Gate is created).
Result<EnforceMode> ParseEnforceMode(const std::string& mode);

struct EnforcerConfig {
  std::string store_dir;          // the digest store (cache/store.h)
  std::string policy_file;        // empty = the built-in default policy (policy/default.policy)
  std::string mode = "enforce";   // "enforce" | "permissive"
  bool verify_blocks = false;     // verify=blocks: per-block digests, every read checked
  std::string tpm_tcti;           // TPM for measure actions; empty = no TPM
  int pcr = -1;                   // -1 = default PCR
  std::string log_dir;            // measurement log directory; empty = no log
  bool measure_all_sources = false;  // measure every active source at startup, in id order
};

// verify=blocks: the size of the blocks whose digests are recorded when a file is verified.
// Gate::CheckRead needs `offset` to be a multiple of it and `data` to cover whole blocks (only the
// file's last block may be short, and only if `data` ends at the verified file size). fs/ aligns
// its lower reads to this and serves the requested sub-range. Anything else is kCorrupt.
inline constexpr size_t kVerifyBlockSize = 64 * 1024;

// Creates the enforcer for one mount.
// Errors (each names the file / option):
//   kInvalidArgument: a bad policy (the same "FILE:LINE:COL: message" as `digestctl policy
//     check`), a bad mode.
//   store errors from Store::Open (kNotFound, kVersion, kCorrupt, kIo): in enforce mode a store
//     that cannot be opened is a startup error (fail closed). In permissive mode too: a mount
//     without its store would have nothing to decide with.
//   kUnavailable: measurement was asked for (tpm/log) and cannot be set up.
Result<std::unique_ptr<Gate>> CreateEnforcer(const EnforcerConfig& cfg);

}  // namespace dfs
