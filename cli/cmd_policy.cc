// digestctl policy check FILE | policy default | verify-tree DIR (docs/policy.md, docs/cli.md).
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cache/store.h"
#include "cli/cli.h"
#include "common/log.h"
#include "policy/pipeline.h"
#include "policy/policy.h"
#include "policy/verify_tree.h"

namespace dfs::cli {

namespace {

int PolicyCheck(const Context& ctx, const std::string& file) {
  auto p = Policy::Load(file);
  if (!p.ok()) return Fail(p.status());
  int counts[kNumFamilies] = {0, 0, 0};
  for (const Rule& r : p->rules()) counts[static_cast<int>(FamilyOf(r.action))]++;
  if (ctx.json) {
    nlohmann::json j = {{"file", file},
                        {"ok", true},
                        {"rules", p->rules().size()},
                        {"appraise_rules", counts[0]},
                        {"measure_rules", counts[1]},
                        {"audit_rules", counts[2]},
                        {"mutable", p->has_mutable()}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("%s: OK, %zu rules (appraise %d, measure %d, audit %d)%s\n", file.c_str(),
                p->rules().size(), counts[0], counts[1], counts[2],
                p->has_mutable() ? ", has mutable rules" : "");
  }
  return kExitOk;
}

struct VerifyArgs {
  std::string dir;
  std::string policy_file;
  std::string prefix;
  uint32_t uid = 0;
  int threads = 2;
  bool xdev = false;
  bool show_audit = false;
};

nlohmann::json FindingJson(const TreeFinding& f) {
  return {{"path", f.path}, {"op", AccessOpName(f.op)}, {"verdict", RefusalName(f.refusal)},
          {"rule", f.rule}, {"reason", f.reason}, {"digest", f.digest}};
}

int VerifyTreeCmd(const Context& ctx, const VerifyArgs& a) {
  std::string prefix = a.prefix;
  while (prefix.size() > 1 && prefix.back() == '/') prefix.pop_back();
  if (prefix == "/") prefix.clear();
  if (!prefix.empty() && prefix[0] != '/') {
    return Fail(
        Status(Code::kInvalidArgument, "--prefix must be an absolute path, got '" + prefix + "'"));
  }
  EnforcerConfig cfg;
  cfg.store_dir = ctx.store_dir;
  cfg.policy_file = a.policy_file;
  auto policy = LoadPolicyFor(cfg);
  if (!policy.ok()) return Fail(policy.status());
  StoreOptions so;
  so.read_only = true;
  auto store = Store::Open(ctx.store_dir, so);
  if (!store.ok()) {
    Status s = store.status();
    s.Prepend("opening store " + ctx.store_dir);
    std::fprintf(stderr, "digestctl: %s\n", s.ToString().c_str());
    return kExitStore;
  }
  // Offline: no measurer (nothing is extended or logged), the store read-only, enforce mode.
  auto e = CreateEnforcerWith(cfg, std::move(policy).value(),
                              std::shared_ptr<Store>(std::move(store).value()), false, nullptr);
  if (!e.ok()) return Fail(e.status());
  VerifyTreeOptions vo;
  vo.prefix = prefix;
  vo.uid = a.uid;
  vo.threads = a.threads;
  vo.one_file_system = a.xdev;
  auto r = VerifyTree(**e, a.dir, vo);
  if (!r.ok()) return Fail(r.status());
  const TreeSummary& s = *r;
  const bool problem = !s.refused.empty();
  if (ctx.json) {
    nlohmann::json refused = nlohmann::json::array(), audited = nlohmann::json::array();
    for (const auto& f : s.refused) refused.push_back(FindingJson(f));
    for (const auto& f : s.audited) audited.push_back(FindingJson(f));
    nlohmann::json j = {{"dir", a.dir},
                        {"files", s.files},
                        {"checked", s.checked},
                        {"refused_count", s.refused.size()},
                        {"audited_count", s.audited.size()},
                        {"errors", s.errors},
                        {"symlinks", s.symlinks},
                        {"skipped", s.skipped},
                        {"hashes", s.hashes},
                        {"bytes_hashed", s.bytes_hashed},
                        {"seconds", s.seconds},
                        {"ok", !problem},
                        {"refused", refused},
                        {"audited", audited}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    for (const auto& f : s.refused) {
      std::printf("REFUSED op=%s path=%s rule=%d verdict=%s digest=%s reason=%s\n",
                  std::string(AccessOpName(f.op)).c_str(), LogQuote(f.path).c_str(), f.rule,
                  std::string(RefusalName(f.refusal)).c_str(), f.digest.c_str(),
                  LogQuote(f.reason).c_str());
    }
    if (a.show_audit) {
      for (const auto& f : s.audited) {
        std::printf("AUDIT op=%s path=%s rule=%d digest=%s reason=%s\n",
                    std::string(AccessOpName(f.op)).c_str(), LogQuote(f.path).c_str(), f.rule,
                    f.digest.c_str(), LogQuote(f.reason).c_str());
      }
    }
    std::printf(
        "verify-tree %s: %lu files, %lu checked, %zu refused, %zu audited, %lu errors, "
        "%lu symlinks not followed, %lu other entries skipped; %lu hashes, %.1f MiB in %.2f s\n",
        a.dir.c_str(), static_cast<unsigned long>(s.files), static_cast<unsigned long>(s.checked),
        s.refused.size(), s.audited.size(), static_cast<unsigned long>(s.errors),
        static_cast<unsigned long>(s.symlinks), static_cast<unsigned long>(s.skipped),
        static_cast<unsigned long>(s.hashes), static_cast<double>(s.bytes_hashed) / (1 << 20),
        s.seconds);
  }
  return problem ? kExitProblem : kExitOk;
}

}  // namespace

void RegisterPolicyCommands(CLI::App& app, Context& ctx) {
  CLI::App* policy = app.add_subcommand("policy", "check policies (docs/policy.md)");
  policy->require_subcommand(1);

  auto file = std::make_shared<std::string>();
  CLI::App* check = policy->add_subcommand(
      "check", "parse a policy file; errors name FILE:LINE:COL (exit 2 on error)");
  check->add_option("FILE", *file, "policy file")->required();
  check->callback([&ctx, file] { ctx.exit_code = PolicyCheck(ctx, *file); });

  CLI::App* def = policy->add_subcommand("default", "print the built-in default policy");
  def->callback([&ctx] {
    std::fwrite(Policy::DefaultText().data(), 1, Policy::DefaultText().size(), stdout);
    ctx.exit_code = kExitOk;
  });

  auto va = std::make_shared<VerifyArgs>();
  CLI::App* vt = app.add_subcommand(
      "verify-tree",
      "make a mount's decision for every file of DIR offline (like aide --check); exit 1 if "
      "anything would be refused");
  vt->add_option("DIR", va->dir, "the tree (a rootfs, or a subtree with --prefix)")->required();
  vt->add_option("--policy", va->policy_file, "policy file (default: the built-in policy)");
  vt->add_option("--prefix", va->prefix,
                 "the path DIR has inside the mount, e.g. /usr/bin (default: DIR is the root)");
  vt->add_option("--uid", va->uid, "uid the files are opened as, for uid= rules (default 0)");
  vt->add_option("--threads", va->threads, "hashing threads (default 2)")->check(CLI::Range(1, 64));
  vt->add_flag("--xdev", va->xdev, "stay on DIR's file system");
  vt->add_flag("--show-audit", va->show_audit, "also list files an audit rule would log");
  vt->callback([&ctx, va] { ctx.exit_code = VerifyTreeCmd(ctx, *va); });
}

}  // namespace dfs::cli
