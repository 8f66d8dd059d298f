#include "fs/runtime_status.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/proc_stat.h"

namespace dfs::fs {

void RuntimeStatus::Init(const std::string& majmin, const MountOptions& opts,
                         const std::string& mountpoint) {
  path_ = std::string(kRuntimeDir) + "/" + majmin + ".json";
  source_ = opts.source;
  mountpoint_ = mountpoint;
  mode_ = std::string(EnforceModeName(opts.mode));
  verify_ = opts.verify_blocks ? "blocks" : "open";
  store_ = opts.store_dir;
  policy_ = opts.policy_file;
  watch_option_ = std::string(WatchModeName(opts.watch));
  poll_us_ = static_cast<int64_t>(opts.poll.count());
  poll_follows_kernel_ = opts.poll_follows_kernel;
  started_ = static_cast<int64_t>(time(nullptr));
  clock_gettime(CLOCK_MONOTONIC, &started_mono_);
}

bool RuntimeStatus::StillOurs() const {
  struct stat st;
  if (stat(path_.c_str(), &st) != 0) return errno == ENOENT;  // gone: nobody else's either
  return st.st_dev == written_dev_ && st.st_ino == written_ino_;
}

void RuntimeStatus::Publish(const CounterSnapshot& counters) {
  if (path_.empty()) return;
  if (written_ && !StillOurs()) {
    // Our mount is gone and a new mount with the same device number has its own file.
    spdlog::debug("event=status_file_skipped path={} reason=replaced_by_another_daemon", path_);
    return;
  }
  if (mkdir(kRuntimeDir, 0755) != 0 && errno != EEXIST) {
    spdlog::debug("event=status_file_skipped dir={} err={}", kRuntimeDir, strerror(errno));
    return;
  }
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  nlohmann::json c = nlohmann::json::object();
  for (const auto& [k, v] : counters.counters) c[k] = v;
  nlohmann::json f = nlohmann::json::object();
  for (const auto& [k, v] : counters.fuse_requests) f[k] = v;
  nlohmann::json poll = {{"poll_us", poll_us_},
                         {"follows_kernel", poll_us_ != 0 && poll_follows_kernel_}};
  if (!counters.device_reads.empty()) {
    nlohmann::json r = nlohmann::json::object();
    for (const auto& [k, v] : counters.device_reads) r[k] = v;
    poll["device_reads"] = r;
  }
  const nlohmann::json watch = {{"option", watch_option_},
                                {"active", counters.watch_active},
                                {"no_opendir", counters.watch_no_opendir},
                                {"changes_read", counters.watch_events}};
  if (!identity_read_) {
    identity_read_ = true;
    const Result<ProcStat> self = ReadProcStat(getpid());
    if (self.ok()) start_ticks_ = self->start_ticks;
    pid_ns_ = OwnNamespace("pid");
    time_ns_ = OwnNamespace("time");
  }
  auto or_null = [](const auto& v) { return v ? nlohmann::json(*v) : nlohmann::json(); };
  nlohmann::json j = {
      {"version", 1},
      {"pid", static_cast<int64_t>(getpid())},
      {"pid_start_ticks", or_null(start_ticks_)},
      {"pid_ns", or_null(pid_ns_)},
      {"time_ns", or_null(time_ns_)},
      {"source", source_},
      {"mountpoint", mountpoint_},
      {"mode", mode_},
      {"verify", verify_},
      {"store", store_},
      {"policy", policy_},
      {"started", started_},
      {"updated", static_cast<int64_t>(time(nullptr))},
      {"uptime_seconds", static_cast<int64_t>(now.tv_sec - started_mono_.tv_sec)},
      {"counters", c},
      {"fuse_requests", f},
      {"polling", poll},
      {"lower_watch", watch},
  };
  std::string tmp = path_ + ".tmp" + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    out.flush();
    if (!out) {
      spdlog::debug("event=status_file_skipped path={}", tmp);
      unlink(tmp.c_str());
      return;
    }
  }
  struct stat st;
  if (stat(tmp.c_str(), &st) != 0) {
    spdlog::debug("event=status_file_skipped path={} err={}", tmp, strerror(errno));
    unlink(tmp.c_str());
    return;
  }
  if (rename(tmp.c_str(), path_.c_str()) != 0) {
    spdlog::debug("event=status_file_skipped path={} err={}", path_, strerror(errno));
    unlink(tmp.c_str());
    return;
  }
  written_ = true;
  written_dev_ = st.st_dev;
  written_ino_ = st.st_ino;
}

void RuntimeStatus::Remove() {
  if (!written_) return;
  // Only the file this daemon wrote: once its mount is gone the kernel may give the device number
  // to a new mount, whose daemon writes a file of the same name (tests/integration/
  // ops_status_reuse.sh). A rename between the check and the unlink could still lose the new
  // file; the new daemon's next publish (status_interval=, SIGUSR1) writes it again.
  if (StillOurs()) unlink(path_.c_str());
  written_ = false;
}

}  // namespace dfs::fs
