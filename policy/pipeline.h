// policy/pipeline.h: the enforcement pipeline behind CreateEnforcer (policy/enforcer.h), with its
// seams (store, measurer) injected so unit tests can run it with fakes, and so `digestctl
// verify-tree` makes exactly the mount's decision (Enforcer::Assess).
//
// The pipeline, per open, in IMA's order (docs/policy.md, "Decisions"):
//   1. decide: the policy gives each family (appraise, measure, audit) its deciding rule; if no
//      family is on, the open is allowed without hashing;
//   2. collect: the inode's cached content is used if (dev, ino, size, mtime, ctime) still match,
//      else the file is hashed (single flight per inode); if the store generation moved since the
//      lookup, only the lookup is redone;
//   3. deny list: a deny-listed digest is refused, whatever the families say;
//   4. look up: does a provenance record vouch for the digest at this path, for this op?
//   5. measure: known -> MeasureSource(the vouching source) once; unknown -> MeasureFile once;
//   6. appraise: unknown content is refused;
//   7. audit: unknown content is logged;
//   8. verdict: enforce -> a refusal is returned; permissive -> logged as "would refuse", allowed.
// Fail closed: a hash, store or measurer error on an open that a family applies to is a refusal in
// enforce mode.
//
// Thread safety: an Enforcer is thread-safe (gate.h); the injected Store and Measurer must be too.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "cache/store.h"
#include "crypto/block_mac.h"
#include "measurement/measurer.h"
#include "policy/content_cache.h"
#include "policy/enforcer.h"
#include "policy/gate.h"
#include "policy/policy.h"

namespace dfs {

struct EnforcerOptions {
  EnforceMode mode = EnforceMode::kEnforce;
  bool verify_blocks = false;
  size_t block_size = kVerifyBlockSize;
  // Algorithms files are hashed with (the store's digests are looked up for each); the first is
  // the primary one (logged, measured, trusted locally). Weak algorithms are never accepted here.
  std::vector<HashAlgo> algos = {HashAlgo::kSha256};
  // Whether Store::TrustLocal may be called (mutable re-trust). False: mutable files are not
  // re-trusted (logged once).
  bool store_writable = false;
  // At most this many distinct paths are re-trusted per mount (retrust_max=): each is a store
  // record and a generation. Beyond it a new path is not re-trusted (logged once as
  // retrust_limit_reached); a path re-trusted before still is (its record is replaced). 0: none.
  size_t max_retrust_paths = kDefaultRetrustMax;
  // Regular files larger than this (st_size, the apparent size) are not hashed: they are unknown
  // content ("larger than max_hash_size"), so appraisal refuses them, audit logs them, and
  // measurement, having nothing to measure, refuses them. Bounds what one open can make the
  // mount hash (a sparse file costs nothing to make). 0: no limit.
  uint64_t max_hash_size = kDefaultMaxHashSize;
  size_t max_cache_entries = 1 << 20;
  size_t hash_chunk = 1 << 20;  // read size while hashing
  // The policy file Reload() re-reads; empty: the built-in default policy.
  std::string policy_file;
  // Regular files up to this size may be hashed inline (TryCheckOpenInline, on fs/'s session
  // thread) when all of their bytes are in the lower page cache: a hand-off to a worker cost more
  // than hashing them (docs/benchmarks.md). Larger or uncached files go to a worker. 0: never.
  uint64_t inline_hash_max = 256 * 1024;
  // The same limit when the open's thread has nothing else waiting (OpenRequest::idle): a cold
  // program start hashes its binary and libraries one open at a time, and a hand-off per file
  // cost it more than the hashing (docs/benchmarks.md). Files above it (a 3 GiB file) always go
  // to a worker, so no single open holds the session thread for long.
  uint64_t inline_hash_idle_max = 8 * 1024 * 1024;
};

// Counters for `digestctl status`, benchmarks and tests. Monotonic.
struct EnforcerStats {
  std::atomic<uint64_t> opens{0};         // CheckOpen calls
  std::atomic<uint64_t> inline_opens{0};  // of which decided inline (TryCheckOpenInline)
  std::atomic<uint64_t> unchecked{0};     // opens no family applied to
  std::atomic<uint64_t> cache_hits{0};    // content found valid in the cache
  std::atomic<uint64_t> hashes{0};        // files hashed (each algorithm pass counts once)
  std::atomic<uint64_t> bytes_hashed{0};
  std::atomic<uint64_t> inline_hashes{0};  // files hashed inline (TryCheckOpenInline)
  std::atomic<uint64_t> hashed_bytes_reused{0};  // InlineHashedBytes calls that gave the bytes
  std::atomic<uint64_t> relookups{0};      // lookups redone after a generation change
  std::atomic<uint64_t> refusals{0};       // opens refused (or, permissive, that would be)
  std::atomic<uint64_t> refusals_logged{0};
  std::atomic<uint64_t> audits_logged{0};
  std::atomic<uint64_t> measurements{0};        // Measurer calls that succeeded
  std::atomic<uint64_t> measurement_errors{0};  // Measurer calls that failed
  std::atomic<uint64_t> tpm_errors{0};       // of which the TPM failed (kUnavailable, measurer.h)
  std::atomic<uint64_t> retrusted{0};        // mutable files trusted locally
  std::atomic<uint64_t> read_mismatches{0};  // CheckRead failures
  std::atomic<uint64_t> log_suppressed{0};   // refusal lines the rate limit dropped
  std::atomic<uint64_t> reloads{0};          // policies reloaded (Reload() OK)
  std::atomic<uint64_t> reloads_refused{0};  // Reload() calls that kept the old policy
};

// Why an open is (or would be) refused.
enum class Refusal : uint8_t {
  kNone = 0,
  kDenied,   // the digest is on the deny list
  kUnknown,  // appraise: no source vouches for the content
  kError,    // fail closed: hashing, store or measurement failed
};
std::string_view RefusalName(Refusal r);

// Everything the pipeline decided about one open, before any side effect (measure, log, verdict).
struct Assessment {
  Decision decision;                       // step 1
  std::shared_ptr<const Content> content;  // step 2 (null if no family applied, or on error)
  bool cache_hit = false;
  Status error;                                        // step 2/4 failure (fail closed)
  bool known[kNumFamilies] = {false, false, false};    // step 4, per family (its bind= applies)
  uint64_t vouching_source[kNumFamilies] = {0, 0, 0};  // the first vouching source, if known
  std::string unknown_reason;  // why the content is not vouched for (messages)
  // The policy this assessment was decided under (keeps decision's and refusal_rule's rules
  // alive across a Reload()).
  std::shared_ptr<const Policy> policy;
  Refusal refusal = Refusal::kNone;    // the verdict if nothing else fails
  const Rule* refusal_rule = nullptr;  // the rule that refused (appraise), or nullptr
  std::string reason;                  // human-readable, for logs and verify-tree
  bool refused() const { return refusal != Refusal::kNone; }
};

// Whether an open's read side is decided too (docs/policy.md, "Opens for reading and writing"):
// an O_RDWR open (op=write) that neither truncates (O_TRUNC) nor finds the file empty. Its
// decision is then, per family, the stricter of op=write's and op=read's.
bool ReadSideAppraised(const OpenRequest& req);

class Enforcer final : public Gate {
 public:
  Enforcer(std::shared_ptr<Store> store, std::shared_ptr<Measurer> measurer, Policy policy,
           EnforcerOptions opts);
  ~Enforcer() override;

  // Gate.
  Status CheckOpen(const OpenRequest& req, OpenTicket* ticket) override;
  bool TryCheckOpenInline(const OpenRequest& req, OpenTicket* ticket, Status* result) override;
  Status CheckNode(const OpenRequest& req) override;
  Status CheckRead(const OpenTicket& ticket, uint64_t offset,
                   std::span<const uint8_t> data) override;
  void Changed(uint64_t dev, uint64_t ino) override;
  void WriterClosed(uint64_t dev, uint64_t ino, const std::string& path,
                    const std::function<Result<Fd>()>& reopen_readonly,
                    const std::function<bool()>& still_named) override;
  bool verify_blocks() const override { return opts_.verify_blocks; }
  std::span<const uint8_t> InlineHashedBytes(const struct stat& st) override;
  OpenTicket ShareTicket(const OpenTicket& ticket,
                         std::function<Result<Fd>()> reopen_readonly) override;
  const void* TicketDigests(const OpenTicket& ticket) const override;
  void Counters(std::vector<std::pair<std::string, uint64_t>>* out) const override;
  // Re-reads opts.policy_file (gate.h). Refused as well (old policy kept): a new policy with
  // measure rules when this mount has no measurer. On success the refusal/audit log keys are
  // forgotten, so each refusal under the new policy is logged again.
  Status Reload() override;
  void Tick() override;
  void PrepareThread(bool session) override;

  // Steps 1-4 and the verdict without side effects: nothing is measured or logged, and the mode
  // is not applied (a refusal is reported as such in permissive mode too). The collected content
  // is cached as for an open. Used by CheckOpen and by `digestctl verify-tree`.
  Assessment Assess(const OpenRequest& req);

  // Measures every active source in the order (kind, name, blob digest), as measurement's
  // MeasureAllSources does (measure_all_sources). Fails on the first error.
  Status MeasureAllSources();

  // The policy in force now (replaced by Reload()).
  std::shared_ptr<const Policy> policy() const { return policy_.load(); }
  const EnforcerStats& stats() const { return stats_; }
  EnforceMode mode() const { return opts_.mode; }

 private:
  Result<std::shared_ptr<const Content>> Collect(const OpenRequest& req, bool* hit);
  // interrupted (may be null): checked before each chunk; true stops with an EINTR error.
  // HashCachedContent's read size: whole blocks, about 1 MiB.
  size_t InlineChunk() const;
  // max_bytes (0: none): a file larger than that (at the start of an attempt, or grown past it
  // while it is read) is not hashed to its end: kFull.
  Result<std::shared_ptr<Content>> HashContent(int fd, uint64_t dev, uint64_t ino,
                                               const std::function<bool()>* interrupted = nullptr,
                                               uint64_t max_bytes = 0);
  // HashContent for a file of at most `max` bytes whose bytes are all in the page cache, without
  // blocking: reads with RWF_NOWAIT, 1 MiB at a time. kUnavailable with errno EAGAIN when it
  // would block (not cached, larger than `max`, or changing): the caller then hashes on a worker.
  Result<std::shared_ptr<Content>> HashCachedContent(int fd, uint64_t dev, uint64_t ino,
                                                     uint64_t max);
  Status LookUp(Content* c);
  // The size above which a file is not hashed for decision `d`: the mount's max_hash_size=, or
  // the smallest max_size= of the rules deciding it, whichever is smaller (0: no cap).
  // *cap_rule: that rule, or null for max_hash_size=.
  uint64_t HashCap(const Decision& d, const Rule** cap_rule) const;
  Result<SourceInfo> Source(uint64_t id);
  // Step 4 for one family: does a provenance record vouch for the content here?
  Result<bool> Vouches(const Content& c, const std::string& path, AccessOp op, bool bind,
                       uint64_t* source_id, std::string* why_not);
  Status Measure(const Assessment& a, const OpenRequest& req);
  void CountMeasurementError(const Status& s);
  // Logs a refusal / audit once per (inode, content, verdict, rule).
  bool FirstTime(const std::string& key);
  bool PendingRetrust(uint64_t dev, uint64_t ino);
  using InodeKey = std::pair<uint64_t, uint64_t>;
  void LogRefusal(const Assessment& a, const OpenRequest& req);
  // Whether one more refusal line may be written now (takes a token); counts it suppressed if
  // not. Writes the pending "suppressed N" line first when a line is allowed again.
  bool RefusalLineAllowed();
  void ReportSuppressed(uint64_t n);

  const std::shared_ptr<Store> store_;
  const std::shared_ptr<Measurer> measurer_;
  std::atomic<std::shared_ptr<const Policy>> policy_;  // swapped whole by Reload()
  const EnforcerOptions opts_;
  ContentCache cache_;
  EnforcerStats stats_;
  BlockMac block_mac_;  // verify=blocks: the tags of this mount's block digests

  std::mutex mu_;  // guards the fields below; never held while calling the store or measurer
  uint64_t sources_generation_ = 0;                   // generation sources_ belongs to
  std::unordered_map<uint64_t, SourceInfo> sources_;  // source id -> info
  std::unordered_set<uint64_t> measured_sources_;     // MeasureSource done
  std::unordered_set<std::string> measured_files_;    // MeasureFile done: digest + path
  std::unordered_set<std::string> logged_;            // refusal / audit lines written
  // Refusal lines: a token bucket (kRefusalLinesPerSecond, burst kRefusalLineBurst) over the
  // whole mount, so that a loop opening ever new unknown files cannot flood the log.
  double refusal_tokens_ = 0;
  int64_t refusal_tokens_at_ns_ = 0;
  uint64_t suppressed_unreported_ = 0;  // suppressed since the last "suppressed" line
  bool warned_readonly_ = false;
  bool warned_retrust_limit_ = false;
  std::unordered_set<std::string> retrusted_paths_;  // paths re-trusted by this mount (mu_)
  // Mutable files changed through the mount whose last writer has not closed yet (Changed()
  // since the last WriterClosed()): reads of them are allowed until the re-trust.
  std::set<std::pair<uint64_t, uint64_t>> pending_retrust_;
  // Held across a re-trust's check that its path still leads to the file and its record (never
  // across a hash): a rename through the mount, then the close of the file written in its place,
  // come after a check that passed, so that file's record comes after this one.
  std::mutex retrust_record_mu_;
};

// Builds an Enforcer from a config, a parsed policy and an already opened store and measurer
// (CreateEnforcer's body; tests use it with fakes).
// `measurer` may be null: measure actions then record nothing (no tpm= and no log= given).
// Errors: kInvalidArgument for a bad cfg.mode; the store's error from Stats().
Result<std::unique_ptr<Enforcer>> CreateEnforcerWith(const EnforcerConfig& cfg, Policy policy,
                                                     std::shared_ptr<Store> store,
                                                     bool store_writable,
                                                     std::shared_ptr<Measurer> measurer);

// Loads cfg.policy_file, or the default policy if it is empty.
Result<Policy> LoadPolicyFor(const EnforcerConfig& cfg);

}  // namespace dfs
