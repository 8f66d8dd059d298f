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
#include <optional>
#include <string>
#include <vector>

#include "common/byte_buffer.h"
#include "common/status.h"
#include "policy/gate.h"

namespace dfs {

enum class EnforceMode { kEnforce, kPermissive };

// Parses "enforce" / "permissive". kInvalidArgument for anything else ("off" is fs/'s business:
// with mode=off no Gate is created).
Result<EnforceMode> ParseEnforceMode(const std::string& mode);

// The default of max_hash_size= (mount option): files of more bytes (apparent size, so sparse
// files count whole) are decided without being hashed, as unknown content.
inline constexpr uint64_t kDefaultMaxHashSize = 4ull << 30;

// The default of retrust_max= (mount option): distinct paths a mount re-trusts at most.
inline constexpr size_t kDefaultRetrustMax = 4096;

struct EnforcerConfig {
  std::string store_dir;         // the digest store (cache/store.h)
  std::string policy_file;       // empty = the built-in default policy (policy/default.policy)
  std::string mode = "enforce";  // "enforce" | "permissive"
  bool verify_blocks = false;    // verify=blocks: per-block digests, every read checked
  std::string tpm_tcti;          // TPM for measure actions; empty = log only
  int pcr = -1;                  // -1 = the measurement component's default PCR
  std::string log_dir;           // measurement log directory; empty = its default
  // The kernel IMA's binary log to carry in ours (MeasurerConfig::kernel_log): nullopt = the
  // measurement component's default (the kernel's log for PCR 10), "" = none.
  std::optional<std::string> kernel_log;
  bool measure_all_sources = false;  // measure every active source at startup
  // retrust_max=: distinct paths re-trusted per mount at most (EnforcerOptions).
  size_t retrust_max = kDefaultRetrustMax;
  // max_hash_size=: larger files are not hashed (EnforcerOptions); 0: no limit.
  uint64_t max_hash_size = kDefaultMaxHashSize;
  // Optional, for the measurement log's first (aggregate) entry: the mount's SOURCE and
  // MOUNTPOINT.
  std::string source;
  std::string mountpoint;
};

// verify=blocks: the size of the blocks whose digests are recorded when a file is verified.
// Gate::CheckRead accepts any range: whole blocks in `data` are hashed as given; a block that
// `data` covers only in part is read whole again through a descriptor the ticket holds (a dup of
// the open's fd), checked, and `data` must equal its verified bytes. So aligned reads cost no
// extra I/O, and unaligned ones are still exact. A range past the verified size, or a short
// read before it, is kCorrupt.
inline constexpr size_t kVerifyBlockSize = 64 * 1024;

// verify=blocks, optional for fs/'s read (avoids CheckRead's second read for unaligned ranges):
// reads `size` bytes at `offset` of the lower file `fd`. It reads the whole kVerifyBlockSize
// blocks around the range into *buf,
// checks them with gate.CheckRead, and on success the bytes to serve are
// buf->data() + *start, *len of them (*len < size at EOF). Errors: kCorrupt from CheckRead (answer
// EIO), kIo from pread. Thread-safe as CheckRead is; `buf` belongs to the caller (a ByteBuffer:
// growing it does not zero it, and only the bytes read are used).
// `nowait`: the lower file is read with RWF_NOWAIT, and a read that would wait for the disk
// fails with kUnavailable, errno EAGAIN, before anything is checked (the caller then reads on a
// thread that may block).
Status ReadVerified(Gate& gate, const OpenTicket& ticket, int fd, uint64_t offset, size_t size,
                    ByteBuffer* buf, size_t* start, size_t* len, bool nowait = false);
// The same, the bytes checked with each of `tickets` (at least one): they must match every one.
Status ReadVerified(Gate& gate, std::span<const OpenTicket* const> tickets, int fd,
                    uint64_t offset, size_t size, ByteBuffer* buf, size_t* start, size_t* len,
                    bool nowait = false);

// Creates the enforcer for one mount.
// Errors (each names the file / option):
//   kInvalidArgument: a bad policy (the same "FILE:LINE:COL: message" as `digestctl policy
//     check`), a bad mode.
//   store errors from Store::Open (kNotFound, kVersion, kCorrupt, kIo): in enforce mode a store
//     that cannot be opened is a startup error (fail closed). In permissive mode too: a mount
//     without its store would have nothing to decide with.
//   measurement errors from CreateMeasurer (kUnavailable: TPM unreachable; kCorrupt: the log and
//     the PCR diverge; kIo; kInvalidArgument: a refused PCR). A measurer is made when the policy
//     has measure rules or tpm=, log= or measure_all_sources is given; its failure stops the
//     mount (fail closed).
Result<std::unique_ptr<Gate>> CreateEnforcer(const EnforcerConfig& cfg);

}  // namespace dfs
