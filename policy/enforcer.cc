// CreateEnforcer: opens the real store and measurer and builds the pipeline (policy/pipeline.h).
// Kept apart from pipeline.cc so that unit tests, which inject fakes, do not link Store::Open.
#include "policy/enforcer.h"

#include <spdlog/spdlog.h>

#include "cache/store.h"
#include "policy/pipeline.h"

// The measurement component's factory (measurement/measurement.h) is wired in once it is merged;
// until then tpm=/log= fail closed at startup.

namespace dfs {

namespace {

// The measurer for cfg: none when neither tpm= nor log= is given (measure rules then record
// nothing, and CreateEnforcerWith says so once).
Result<std::shared_ptr<Measurer>> MakeMeasurer(const EnforcerConfig& cfg) {
  if (cfg.tpm_tcti.empty() && cfg.log_dir.empty()) return std::shared_ptr<Measurer>();
  return Status(Code::kUnavailable,
                "tpm= or log= was given but this build has no measurement component");
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
  DFS_ASSIGN_OR_RETURN(std::shared_ptr<Measurer> measurer, MakeMeasurer(cfg));
  if (!measurer && policy.has_family(Family::kMeasure)) {
    spdlog::warn("measurement_off reason=\"the policy has measure rules but no tpm= or log= is "
                 "set; nothing is measured\"");
  }
  std::shared_ptr<Store> shared(std::move(store).value());
  DFS_ASSIGN_OR_RETURN(std::unique_ptr<Enforcer> e,
                       CreateEnforcerWith(cfg, std::move(policy), std::move(shared), writable,
                                          std::move(measurer)));
  return std::unique_ptr<Gate>(std::move(e));
}

}  // namespace dfs
