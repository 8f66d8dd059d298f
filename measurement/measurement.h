// measurement/measurement.h: how to get a Measurer (measurer.h), and the helpers around it.
// This is the contract the enforcer (policy/) and the daemon (fs/) link against.
//
// What a Measurer built here does (docs/measurement.md has the full story):
// - Appends ima-ng entries to <log_dir>/binary_runtime_measurements and
//   <log_dir>/ascii_runtime_measurements, and, with a TPM, extends PCR `pcr` in every allocated
//   bank with that bank's template hash (H_bank(template data)).
// - Order per entry: lock the log directory (flock on <log_dir>/.lock, shared by every process that
//   uses the directory), catch up with entries other processes appended, append the binary record
//   and fdatasync it, append the ASCII line (not synced: it is rebuilt from the binary log at start
//   if they differ), extend the PCR, unlock. The binary log
//   is the write-ahead record: an entry whose extend did not happen (crash, TPM gone) is found on
//   the next call or the next start by comparing the TPM's PCR with the replayed log, and extended
//   then ("roll forward"). Until that succeeds every measurement fails with kUnavailable. An extend
//   never happens without its entry already on disk.
// - Scope: one log per (log directory, TPM, PCR). Mounts that share a TPM must share the log
//   directory too (the default does), so that the one log replays to the PCR.
// - Idempotent per subject for the life of the Measurer: a source once per blob digest, a file once
//   per (digest, path).
//
// Thread safety: the Measurer is thread-safe (one mutex; TPM calls are made under it).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cache/records.h"
#include "common/digest.h"
#include "common/status.h"
#include "measurement/measurer.h"

namespace dfs {

class PcrBackend;

// PCR 23: the TCG "application support" PCR; see docs/measurement.md for why not 10..15.
inline constexpr uint32_t kDefaultPcr = 23;
// The kernel IMA's PCR, the only one Keylime's verifier accepts IMA entries in.
inline constexpr uint32_t kImaPcr = 10;
// Where the kernel's IMA publishes its binary measurement list.
inline constexpr const char* kKernelImaLog = "/sys/kernel/security/ima/binary_runtime_measurements";
inline constexpr const char* kDefaultLogDir = "/run/digestfs/measurements";
inline constexpr const char* kBinaryLogName = "binary_runtime_measurements";
inline constexpr const char* kAsciiLogName = "ascii_runtime_measurements";
// The name (path field) of the first entry each Measurer writes.
inline constexpr const char* kAggregateName = "digestfs_aggregate";

// What the first entry of a mount identifies, in the manner of IMA's boot_aggregate. Its digest is
// SHA-256 over AggregateText(info) (a fixed, documented text; a verifier recomputes it).
struct AggregateInfo {
  std::string source;  // the lower directory (mount SOURCE)
  std::string mountpoint;
  std::string store_dir;
  uint64_t store_generation = 0;
  Digest policy_digest;  // digest of the policy text in force (empty if none)
  std::string mode;      // "enforce" | "permissive" | "off"
};
// "digestfs-aggregate v1\nsource=...\nmountpoint=...\nstore=...\nstore_generation=N\n
//  policy=ALGO:HEX|none\nmode=...\n" (values verbatim; a newline in a value is written as \n).
std::string AggregateText(const AggregateInfo& info);
Result<Digest> AggregateDigest(const AggregateInfo& info);

struct MeasurerConfig {
  std::string tcti;                      // empty: log only, no TPM (the null measurer)
  std::string log_dir = kDefaultLogDir;  // created (mode 0750) if missing
  uint32_t pcr = kDefaultPcr;            // 0..23 except 17..22
  // The kernel IMA's binary log, for a PCR that the kernel extends too (pcr 10, what Keylime
  // attests). Before each of its own entries the Measurer copies into its log every entry of that
  // file for `pcr` that its log does not hold yet (in the kernel's order, not extended again: the
  // kernel did that), so its log replays to the PCR and is a superset of the kernel's.
  // nullopt: kKernelImaLog when pcr is 10 (a missing file then means no kernel IMA, logged), else
  // none. "": none. A path: that file, which must exist. Only ima-ng kernel entries are carried;
  // another template is kUnsupported. docs/measurement.md ("Keylime") has the limits: a kernel
  // measurement that races one of ours (kernel IMA measuring at runtime) makes the order
  // ambiguous, and the next measurement fails with kCorrupt, as for any foreign extend.
  std::optional<std::string> kernel_log;
  // If set, the Measurer's first entry is the aggregate for this mount (always a new entry).
  std::optional<AggregateInfo> aggregate;
};

// Opens the log directory, recovers it (truncates a torn final record, rebuilds the ASCII log from
// the binary one, rolls forward entries whose extend did not happen, starts a new log when the PCR
// was reset, e.g. after a reboot, keeping the old one as <name>.<unix time>), connects to the TPM,
// and writes the aggregate entry.
// Errors: kInvalidArgument (bad pcr, empty log_dir), kUnavailable (TPM unreachable or failing),
// kNotFound (an explicit kernel_log is missing), kUnsupported (a kernel entry is not ima-ng),
// kCorrupt (the log does not parse, or the log and the PCR diverge in a way that is not a pending
// tail: something else extended the PCR, or the log was edited), kIo (the log cannot be written).
Result<std::unique_ptr<Measurer>> CreateMeasurer(const MeasurerConfig& config);
// The same over a given PCR backend (the test seam); backend null means log only.
Result<std::unique_ptr<Measurer>> CreateMeasurerWithBackend(const MeasurerConfig& config,
                                                            std::unique_ptr<PcrBackend> backend);

// The path-field name for a measured source: the kind prefix as the kernel names digest lists
// ("rpm-hello-2.0-1.x86_64", "tlv-<name>", "manifest-<name>", "local-<name>"); no double prefix.
std::string SourceEntryName(const SourceInfo& source);

// Measures every active source in a fixed order (kind, then name, then blob digest), so two fresh
// runs over the same set give the same PCR. Returns the number of sources passed to MeasureSource
// (already-measured ones are skipped by the Measurer itself). Stops at the first error.
Result<size_t> MeasureAllSources(Measurer& measurer, std::vector<SourceInfo> sources);

}  // namespace dfs
