// digestfs: the mount daemon. `digestfs SOURCE MOUNTPOINT [-f] [-o OPTIONS]` (docs/mount.md).
#include <fuse_lowlevel.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>
#include <string>
#include <type_traits>

#include "build_info.h"  // generated: DIGESTFS_COMMIT
#include "common/exit_codes.h"
#include "common/log.h"
#include "fs/conn_watchdog.h"
#include "fs/daemon.h"
#include "fs/options.h"
#include "fs/session.h"
#include "policy/gate.h"

#if __has_include("policy/enforcer.h")
#include "policy/enforcer.h"
#define DIGESTFS_HAVE_ENFORCER 1
#endif

namespace {

#ifdef DIGESTFS_HAVE_ENFORCER
// EnforcerConfig::mode may be a string ("enforce"/"permissive") or an enum with kEnforce and
// kPermissive.
template <typename C>
void SetMode(C& c, dfs::fs::EnforceMode m) {
  using M = std::remove_cvref_t<decltype(c.mode)>;
  if constexpr (std::is_assignable_v<M&, std::string>) {
    c.mode = std::string(dfs::fs::EnforceModeName(m));
  } else if constexpr (requires {
                         M::kEnforce;
                         M::kPermissive;
                       }) {
    c.mode = m == dfs::fs::EnforceMode::kPermissive ? M::kPermissive : M::kEnforce;
  } else {
    static_assert(sizeof(C) == 0, "EnforcerConfig::mode: unsupported type");
  }
}
#endif

int Fail(const dfs::Status& s) {
  std::fprintf(stderr, "digestfs: %s\n", s.ToString().c_str());
  return dfs::ExitCodeFor(s);
}

dfs::Result<std::unique_ptr<dfs::Gate>> MakeGate(const dfs::fs::MountOptions& o) {
  if (o.mode == dfs::fs::EnforceMode::kOff) return std::unique_ptr<dfs::Gate>();
#ifdef DIGESTFS_HAVE_ENFORCER
  dfs::EnforcerConfig c;
  c.store_dir = o.store_dir;
  c.policy_file = o.policy_file;
  SetMode(c, o.mode);
  c.verify_blocks = o.verify_blocks;
  c.tpm_tcti = o.tpm_tcti;
  c.pcr = o.pcr;
  c.log_dir = o.log_dir;
  c.kernel_log = o.kernel_log;
  c.measure_all_sources = o.measure_all_sources;
  c.retrust_max = o.retrust_max;
  c.max_hash_size = o.max_hash_size;
  c.source = o.source;
  c.mountpoint = o.mountpoint;
  return dfs::CreateEnforcer(c);
#else
  return dfs::Status(dfs::Code::kUnsupported,
                     "mode=" + std::string(dfs::fs::EnforceModeName(o.mode)) +
                         ": enforcement not built in this version (use -o mode=off)");
#endif
}

}  // namespace

int main(int argc, char** argv) {
  dfs::fs::ConnectionWatchdog::RunIfRequested(argc, argv);  // the mount's watchdog, if it is one
  auto parsed = dfs::fs::ParseCommandLine(argc, argv);
  if (!parsed.ok()) {
    std::fprintf(stderr, "digestfs: %s\n", parsed.status().message().c_str());
    return dfs::kExitUsage;
  }
  const dfs::fs::MountOptions& o = *parsed;
  if (o.show_help) {
    std::fputs(dfs::fs::UsageText("digestfs").c_str(), stdout);
    return dfs::kExitOk;
  }
  if (o.show_version) {
    std::printf("digestfs %s (commit %s, libfuse %s)\n", DIGESTFS_VERSION, DIGESTFS_COMMIT,
                fuse_pkgversion());
    return dfs::kExitOk;
  }
  dfs::Status ls = dfs::InitLogging(dfs::LogSink::kStderr, o.loglevel);
  if (!ls.ok()) return Fail(ls);
  // Fork first: the Gate and the session start threads, which a fork would not carry over.
  dfs::fs::Daemonizer daemon;
  if (!o.foreground && !daemon.Start()) {
    return Fail(dfs::Status(dfs::Code::kIo, "cannot fork into the background"));
  }
  auto gate = MakeGate(o);
  if (!gate.ok()) {
    int code = Fail(gate.status());
    daemon.Fail(code);
    return code;
  }
  dfs::Status s = dfs::fs::RunMount(
      o, gate->get(),
      [&] {
        // logfile=: from now on (in the foreground too) the log goes there; if it cannot be
        // opened, to syslog (daemon) or stderr (foreground), saying so.
        bool to_file = false;
        if (!o.logfile.empty()) {
          dfs::Status fl = dfs::InitFileLogging(o.logfile, o.loglevel);
          if (!fl.ok()) spdlog::error("event=logfile_unavailable status={}", fl.ToString());
          to_file = fl.ok();
        }
        if (!daemon.started()) return;
        daemon.Ready();
        if (to_file) return;
        dfs::Status sl = dfs::InitLogging(dfs::LogSink::kSyslog, o.loglevel);
        if (!sl.ok()) spdlog::warn("event=syslog_unavailable status={}", sl.ToString());
      },
      [] { dfs::ReopenLogFile(); });
  if (!s.ok()) {
    int code = Fail(s);
    daemon.Fail(code);
    return code;
  }
  return dfs::kExitOk;
}
