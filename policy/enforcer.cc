// CreateEnforcer: opens the real store and measurer and builds the pipeline (policy/pipeline.h).
// Kept apart from pipeline.cc so that unit tests, which inject fakes, do not link Store::Open.
#include "policy/enforcer.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>

#include <cerrno>

#include "cache/store.h"
#include "crypto/hash.h"
#include "measurement/measurement.h"
#include "policy/pipeline.h"

namespace dfs {

namespace {

// The measurer for cfg: none when neither tpm= nor log= is given (measure rules then record
// nothing, and CreateEnforcerWith says so once). With tpm= alone the log goes to the default
// directory. The first entry is the mount's aggregate; with measure_all_sources every active
// source follows, in a fixed order, before the mount serves anything.
Result<std::shared_ptr<Measurer>> MakeMeasurer(const EnforcerConfig& cfg, const Store& store) {
  if (cfg.tpm_tcti.empty() && cfg.log_dir.empty()) {
    if (cfg.measure_all_sources) {
      return Status(Code::kInvalidArgument, "measure_all_sources needs tpm= or log=");
    }
    return std::shared_ptr<Measurer>();
  }
  MeasurerConfig mc;
  mc.tcti = cfg.tpm_tcti;
  if (!cfg.log_dir.empty()) mc.log_dir = cfg.log_dir;
  if (cfg.pcr >= 0) mc.pcr = static_cast<uint32_t>(cfg.pcr);
  AggregateInfo agg;
  agg.source = cfg.source;
  agg.mountpoint = cfg.mountpoint;
  agg.store_dir = cfg.store_dir;
  agg.store_generation = store.Generation();
  agg.mode = cfg.mode;
  if (!cfg.policy_file.empty()) {
    Fd fd(::open(cfg.policy_file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return Status::FromErrno(errno, "opening policy " + cfg.policy_file);
    DFS_ASSIGN_OR_RETURN(agg.policy_digest, HashFd(fd.get(), HashAlgo::kSha256));
  }
  mc.aggregate = agg;
  auto m = CreateMeasurer(mc);
  if (!m.ok()) {
    Status s = m.status();
    return s.Prepend("setting up measurement (tpm=" + cfg.tpm_tcti + ", log=" + mc.log_dir + ")");
  }
  std::shared_ptr<Measurer> measurer(std::move(m).value());
  if (cfg.measure_all_sources) {
    DFS_ASSIGN_OR_RETURN(std::vector<SourceInfo> all, store.ListSources());
    std::vector<SourceInfo> active;
    for (auto& si : all) {
      if (si.state == SourceState::kActive) active.push_back(std::move(si));
    }
    DFS_ASSIGN_OR_RETURN(size_t n, MeasureAllSources(*measurer, std::move(active)));
    spdlog::info("measure_all_sources sources={}", n);
  }
  return measurer;
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
  DFS_ASSIGN_OR_RETURN(std::shared_ptr<Measurer> measurer, MakeMeasurer(cfg, **store));
  std::shared_ptr<Store> shared(std::move(store).value());
  DFS_ASSIGN_OR_RETURN(std::unique_ptr<Enforcer> e,
                       CreateEnforcerWith(cfg, std::move(policy), std::move(shared), writable,
                                          std::move(measurer)));
  return std::unique_ptr<Gate>(std::move(e));
}

}  // namespace dfs
