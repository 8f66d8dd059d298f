#include "fs/session.h"

#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "common/log.h"
#include "common/mountinfo.h"
#include "fs/conn_watchdog.h"
#include "fs/control.h"
#include "fs/creds.h"
#include "fs/host_lsm.h"
#include "fs/passthrough.h"
#include "fs/runtime_status.h"

namespace dfs::fs {

namespace {

struct SessionDeleter {
  void operator()(fuse_session* se) const { fuse_session_destroy(se); }
};

bool HasOpt(const std::vector<std::string>& opts, std::string_view name) {
  for (const auto& o : opts) {
    if (o == name) return true;
  }
  return false;
}

// The "maj:min" of the digestfs mount at `mountpoint` (canonical path), from mountinfo. Read
// without touching the mount itself (which would need the loop that is not running yet).
std::optional<std::string> MountDevice(const std::string& mountpoint) {
  auto m = FindMount(mountpoint, "fuse.digestfs");
  if (!m) return std::nullopt;
  return m->majmin;
}

int ReadKb(const std::string& path) {
  std::ifstream in(path);
  int kb = -1;
  in >> kb;
  return in ? kb : -1;
}

// Readahead of the mount: FUSE starts at 128 KiB, which halves cold sequential reads compared
// with the disk below. Use `kb` if given (> 0), else the lower device's setting, else 1 MiB.
void TuneReadahead(const std::string& md, dev_t lower, int kb) {
  if (kb == 0) return;
  if (kb < 0) {
    std::string dev = std::to_string(major(lower)) + ":" + std::to_string(minor(lower));
    kb = ReadKb("/sys/class/bdi/" + dev + "/read_ahead_kb");
    if (kb <= 0) kb = ReadKb("/sys/dev/block/" + dev + "/../queue/read_ahead_kb");
    if (kb < 1024) kb = 1024;
  }
  std::ofstream out("/sys/class/bdi/" + md + "/read_ahead_kb");
  out << kb;
  out.flush();
  if (!out) {
    spdlog::debug("event=readahead_skipped reason=sysfs_write_failed bdi={}", md);
  } else {
    spdlog::debug("event=readahead bdi={} kb={}", md, kb);
  }
}

}  // namespace

Status RunMount(const MountOptions& opts, Gate* gate, const std::function<void()>& on_mounted,
                const std::function<void()>& reload_hook) {
  InitCreds();
  umask(0);  // the kernel has applied the caller's umask to every mode it sends

  Fd root(open(opts.source.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return Status::FromErrno(errno, "opening SOURCE " + opts.source);
  struct stat st;
  if (fstat(root.get(), &st) != 0) return Status::FromErrno(errno, "stat SOURCE " + opts.source);

  // The option list libfuse sees: ours first, then the user's (already escaped).
  std::vector<std::string> fopts = {"fsname=" + opts.source, "subtype=digestfs",
                                    "default_permissions"};
  for (auto& c : fopts[0]) {
    if (c == ',') c = '_';  // fsname cannot carry a comma through the kernel's option string
  }
  if (CredsActive()) {
    // A root daemon serves whole systems and container roots: set-id programs and device nodes
    // work as on the lower file system unless the options say nosuid/nodev (they come later and
    // win).
    if (!HasOpt(opts.fuse_opts, "allow_other")) fopts.push_back("allow_other");
    fopts.push_back("suid");
    fopts.push_back("dev");
  }
  for (const auto& o : opts.fuse_opts) {
    if (o == "default_permissions") continue;
    fopts.push_back(o);
  }
  std::string joined;
  for (const auto& o : fopts) {
    if (!joined.empty()) joined += ',';
    joined += o;
  }
  std::vector<std::string> argv_s = {"digestfs", "-o", joined};
  if (opts.debug) argv_s.push_back("-d");
  std::vector<char*> argv;
  for (auto& s : argv_s) argv.push_back(s.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());

  FsConfig cfg;
  cfg.entry_timeout = opts.timeout;
  cfg.attr_timeout = opts.timeout;
  cfg.prefill_max = static_cast<size_t>(opts.prefill_kb) * 1024;
  std::string label_readers = "-";
  if (opts.selinux_xattr == SelinuxXattr::kAuto) {
    Result<LabelReaders> readers = SelinuxLabelReaders();
    if (readers.ok()) {
      cfg.absent_selinux_unsupported = !readers->selinux && !readers->evm;
      label_readers = readers->selinux && readers->evm ? "selinux,evm"
                      : readers->selinux               ? "selinux"
                      : readers->evm                   ? "evm"
                                                       : "none";
    } else {
      spdlog::warn(
          "event=selinux_readers_unknown status={} (security.selinux is answered as the lower "
          "file system answers it)",
          readers.status().ToString());
    }
  }
  spdlog::info("event=selinux_xattr option={} readers={} absent_label={}",
               SelinuxXattrName(opts.selinux_xattr), label_readers,
               cfg.absent_selinux_unsupported ? "EOPNOTSUPP" : "ENODATA");
  cfg.gate = gate;
  cfg.workers = opts.single_thread ? 0 : opts.threads;
  cfg.passthrough = gate == nullptr ? opts.passthrough : PassthroughMode::kOff;
  for (const auto& o : fopts) {
    if (o.rfind("max_read=", 0) == 0) {
      cfg.max_read = static_cast<unsigned>(std::strtoul(o.c_str() + 9, nullptr, 10));
    }
  }
  Passthrough fs(std::move(root), st, cfg);
  DFS_RETURN_IF_ERROR(fs.Start());

  std::unique_ptr<fuse_session, SessionDeleter> se(
      fuse_session_new(&args, &Passthrough::Ops(), sizeof(fuse_lowlevel_ops), &fs));
  fuse_opt_free_args(&args);
  if (!se) {
    // libfuse has printed which option it rejected.
    return Status(Code::kInvalidArgument,
                  "libfuse rejected the mount options (see above): " + joined);
  }
  fs.set_session(se.get());
  if (fuse_set_signal_handlers(se.get()) != 0) {
    return Status(Code::kIo, "cannot install signal handlers");
  }
  // The watch skips this mount in the lower tree's mounts: its path, resolved before mounting.
  std::string watch_mountpoint;
  if (opts.watch != WatchMode::kOff) {
    char canon[PATH_MAX];
    if (realpath(opts.mountpoint.c_str(), canon) != nullptr) watch_mountpoint = canon;
  }
  if (fuse_session_mount(se.get(), opts.mountpoint.c_str()) != 0) {
    fuse_remove_signal_handlers(se.get());
    return Status(Code::kIo, "cannot mount " + opts.mountpoint + " (see above)");
  }
  if (Status s = fs.kernel().Install(se.get(), cfg.passthrough != PassthroughMode::kOff, opts.poll,
                                     opts.poll_follows_kernel);
      !s.ok()) {
    spdlog::info("event=kernel_passthrough_unavailable status={}", s.ToString());
  }
  if (opts.watch != WatchMode::kOff) {
    if (Status ws = fs.StartWatch(watch_mountpoint); !ws.ok()) {
      // watch=auto: not being root, or a lower file system without file handles, is expected.
      spdlog::log(opts.watch == WatchMode::kOn ? spdlog::level::warn : spdlog::level::info,
                  "event=lower_watch_unavailable watch={} status={} (names and listings changed "
                  "beneath the mount are seen as with watch=off)",
                  WatchModeName(opts.watch), LogQuote(ws.ToString()));
    }
  }
  spdlog::info("event=mounted source={} mountpoint={} mode={} pid={}", LogQuote(opts.source),
               LogQuote(opts.mountpoint), EnforceModeName(opts.mode), getpid());
  if (fs.kernel().poll().count() != 0 && fs.kernel().poll_follows_kernel()) {
    // Read again by each session thread as it polls (PollBudget); logged here for the operator.
    const char* state = "absent";
    if (access(kFuseWakeHerePath, F_OK) == 0) {
      std::ifstream wake(kFuseWakeHerePath);
      std::string text;
      std::getline(wake, text);
      std::optional<bool> here = wake ? ParseKernelBool(text) : std::nullopt;
      state = !here ? "unreadable" : *here ? "Y" : "N";
    }
    spdlog::info("event=polling poll_us={} fuse_wake_here={}{}", fs.kernel().poll().count(), state,
                 std::string_view(state) == "Y"
                     ? " (no polling while the kernel wakes the daemon on the caller's CPU)"
                     : "");
  }
  RuntimeStatus status;
  ConnectionWatchdog watchdog;  // aborts the connection if this thread dies (conn_watchdog.h)
  if (CredsActive()) {
    char canon[PATH_MAX];
    if (realpath(opts.mountpoint.c_str(), canon) != nullptr) {
      if (auto md = MountDevice(canon)) {
        TuneReadahead(*md, st.st_dev, opts.readahead_kb);
        status.Init(*md, opts, canon);
        status.SetPolling(fs.kernel().poll().count(), fs.kernel().poll_follows_kernel());
        if (Status ws = watchdog.Start(*md); !ws.ok()) {
          spdlog::warn("event=watchdog_unavailable status={} (a SIGKILL may leave the mount hung)",
                       LogQuote(ws.ToString()));
        } else {
          spdlog::info("event=watchdog_started pid={} device={}", watchdog.pid(), *md);
        }
      } else {
        spdlog::warn("event=mount_not_in_mountinfo mountpoint={}", LogQuote(canon));
      }
    }
  }
  on_mounted();
  // Counters published on a timer and at SIGUSR1; SIGHUP reloads (control.h).
  ControlThread control;
  auto publish = [&] {
    CounterSnapshot snap;
    if (gate != nullptr) {
      gate->Tick();
      gate->Counters(&snap.counters);
    }
    snap.fuse_requests = fs.op_counters().Snapshot();
    if (fs.kernel().poll().count() != 0) {
      const KernelPassthrough::PollCounts pc = fs.kernel().poll_counts();
      snap.device_reads = {{"polled", pc.polled},
                           {"not_polled_busy", pc.host_busy},
                           {"not_polled_wake_here", pc.kernel_wakes}};
    }
    snap.watch_active = fs.watching();
    snap.watch_no_opendir = snap.watch_active && fs.no_opendir();
    snap.watch_events = fs.watch_events();
    status.Publish(snap);
  };
  auto reload = [&] {
    spdlog::info("event=reload_requested signal=SIGHUP");
    if (reload_hook) reload_hook();
    if (gate != nullptr) {
      if (Status r = gate->Reload(); !r.ok()) {
        spdlog::error("event=reload_refused reason={} (the previous policy stays in force)",
                      LogQuote(r.ToString()));
      }
    }
  };
  if (Status cs = control.Start(opts.status_interval, publish, reload); !cs.ok()) {
    spdlog::warn("event=control_unavailable status={}", cs.ToString());
  }
  // By default one session thread serves the cheap requests itself and hands the ones that may
  // block to the workers (worker_pool.h); mt_loop: libfuse's multi-threaded loop serves them all
  // (with a Gate, opens that hash and writer releases still go to the workers). Either way each
  // thread that reads the device polls it for up to poll_us first (device_poll.h). Measured on
  // 2 cores, warm open+read+close of 5000 files (docs/benchmarks.md): without polling, about
  // 31k/s with the multi-threaded loop and 17k/s with the one session thread (each request
  // wakes it on another CPU); with poll_us=50, 35-48k/s with the one thread.
  int rc;
  if (opts.mt_loop && !opts.single_thread && opts.threads != 0) {
    fuse_loop_config* lc = fuse_loop_cfg_create();
    fuse_loop_cfg_set_clone_fd(lc, 0);
    fuse_loop_cfg_set_max_threads(lc, 32);
    fuse_loop_cfg_set_idle_threads(lc, 4);
    rc = fuse_session_loop_mt(se.get(), lc);
    fuse_loop_cfg_destroy(lc);
  } else {
    rc = fuse_session_loop(se.get());
  }
  control.Stop();
  fs.Stop();
  fuse_session_unmount(se.get());
  watchdog.Stop();
  fuse_remove_signal_handlers(se.get());
  spdlog::info("event=unmounted mountpoint={} rc={}", LogQuote(opts.mountpoint), rc);
  if (rc != 0 && rc != -EINTR && !(rc > 0)) {
    return Status(Code::kIo, "session loop failed: " + std::to_string(rc));
  }
  return Status::Ok();
}

}  // namespace dfs::fs
