// CreateEnforcer: opens the real store and measurer and builds the pipeline (policy/pipeline.h).
// Kept apart from pipeline.cc so that unit tests, which inject fakes, do not link Store::Open.
#include "policy/enforcer.h"

#include <spdlog/spdlog.h>

#include "cache/store.h"
#include "crypto/hash.h"
#include "measurement/measurement.h"
#include "policy/pipeline.h"

namespace dfs {

namespace {

// The measurer for cfg. One is made when something can be measured: the policy has measure
// rules, or tpm=, log= or measure_all_sources is given. tpm= empty means log only; log= empty means
// the measurement component's default directory. The first entry is this mount's aggregate.
Result<std::shared_ptr<Measurer>> MakeMeasurer(const EnforcerConfig& cfg, const Policy& policy,
                                               const Store& store) {
  if (!policy.has_family(Family::kMeasure) && cfg.tpm_tcti.empty() && cfg.log_dir.empty() &&
      !cfg.measure_all_sources) {
    return std::shared_ptr<Measurer>();
  }
  MeasurerConfig mc;
  mc.tcti = cfg.tpm_tcti;
  if (!cfg.log_dir.empty()) mc.log_dir = cfg.log_dir;
  if (cfg.pcr >= 0) mc.pcr = static_cast<uint32_t>(cfg.pcr);
  mc.kernel_log = cfg.kernel_log;
  AggregateInfo ai;
  ai.source = cfg.source;
  ai.mountpoint = cfg.mountpoint;
  ai.store_dir = cfg.store_dir;
  ai.store_generation = store.Generation();
  DFS_ASSIGN_OR_RETURN(ai.policy_digest, HashBytes(HashAlgo::kSha256, policy.text()));
  ai.mode = cfg.mode;
  mc.aggregate = std::move(ai);
  auto m = CreateMeasurer(mc);
  if (!m.ok()) {
    Status s = m.status();
    return s.Prepend("setting up measurement (log " + mc.log_dir + ")");
  }
  return std::shared_ptr<Measurer>(std::move(m).value());
}

}  // namespace

Result<std::unique_ptr<Gate>> CreateEnforcer(const EnforcerConfig& cfg) {
  DFS_ASSIGN_OR_RETURN(EnforceMode mode, ParseEnforceMode(cfg.mode));
  (void)mode;
  // The policy first: a bad policy is reported as such even when the store is missing too.
  DFS_ASSIGN_OR_RETURN(Policy policy, LoadPolicyFor(cfg));

  // The daemon reads the store; it writes only to re-trust mutable files, so it opens the store
  // read-write only when the policy has a `mutable` rule, and falls back to read-only (re-trust
  // off, logged) if it cannot.
  bool writable = policy.has_mutable();
  StoreOptions so;
  so.read_only = !writable;
  auto store = Store::Open(cfg.store_dir, so);
  if (!store.ok() && writable) {
    spdlog::warn("store_readonly store={} reason={}", cfg.store_dir, store.status().ToString());
    writable = false;
    so.read_only = true;
    store = Store::Open(cfg.store_dir, so);
  }
  if (!store.ok()) {
    Status s = store.status();
    return s.Prepend("opening store " + cfg.store_dir);
  }
  std::shared_ptr<Store> shared(std::move(store).value());
  DFS_ASSIGN_OR_RETURN(std::shared_ptr<Measurer> measurer, MakeMeasurer(cfg, policy, *shared));
  DFS_ASSIGN_OR_RETURN(
      std::unique_ptr<Enforcer> e,
      CreateEnforcerWith(cfg, std::move(policy), std::move(shared), writable, std::move(measurer)));
  return std::unique_ptr<Gate>(std::move(e));
}

}  // namespace dfs
