#include "fs/session.h"

#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "common/log.h"
#include "fs/creds.h"
#include "fs/passthrough.h"

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

}  // namespace

Status RunMount(const MountOptions& opts, Gate* gate, const std::function<void()>& on_mounted) {
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
  cfg.gate = gate;
  Passthrough fs(std::move(root), st, cfg);
  DFS_RETURN_IF_ERROR(fs.Start());

  std::unique_ptr<fuse_session, SessionDeleter> se(
      fuse_session_new(&args, &Passthrough::Ops(), sizeof(fuse_lowlevel_ops), &fs));
  fuse_opt_free_args(&args);
  if (!se) {
    // libfuse has printed which option it rejected.
    return Status(Code::kInvalidArgument, "libfuse rejected the mount options (see above): " + joined);
  }
  fs.set_session(se.get());
  if (fuse_set_signal_handlers(se.get()) != 0) {
    return Status(Code::kIo, "cannot install signal handlers");
  }
  if (fuse_session_mount(se.get(), opts.mountpoint.c_str()) != 0) {
    fuse_remove_signal_handlers(se.get());
    return Status(Code::kIo, "cannot mount " + opts.mountpoint + " (see above)");
  }
  spdlog::info("event=mounted source={} mountpoint={} mode={} pid={}", LogQuote(opts.source),
               LogQuote(opts.mountpoint), EnforceModeName(opts.mode), getpid());
  on_mounted();
  int rc;
  if (opts.single_thread) {
    rc = fuse_session_loop(se.get());
  } else {
    fuse_loop_config* lc = fuse_loop_cfg_create();
    fuse_loop_cfg_set_clone_fd(lc, 0);
    fuse_loop_cfg_set_max_threads(lc, 32);
    fuse_loop_cfg_set_idle_threads(lc, 8);
    rc = fuse_session_loop_mt(se.get(), lc);
    fuse_loop_cfg_destroy(lc);
  }
  fuse_session_unmount(se.get());
  fuse_remove_signal_handlers(se.get());
  spdlog::info("event=unmounted mountpoint={} rc={}", LogQuote(opts.mountpoint), rc);
  if (rc != 0 && rc != -EINTR && !(rc > 0)) {
    return Status(Code::kIo, "session loop failed: " + std::to_string(rc));
  }
  return Status::Ok();
}

}  // namespace dfs::fs
