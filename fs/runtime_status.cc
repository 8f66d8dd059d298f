#include "fs/runtime_status.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>

namespace dfs::fs {

void RuntimeStatus::Publish(const std::string& majmin, const MountOptions& opts,
                            const std::string& mountpoint) {
  if (mkdir(kRuntimeDir, 0755) != 0 && errno != EEXIST) {
    spdlog::debug("event=status_file_skipped dir={} err={}", kRuntimeDir, strerror(errno));
    return;
  }
  nlohmann::json j = {
      {"version", 1},
      {"pid", static_cast<int64_t>(getpid())},
      {"source", opts.source},
      {"mountpoint", mountpoint},
      {"mode", std::string(EnforceModeName(opts.mode))},
      {"verify", opts.verify_blocks ? "blocks" : "open"},
      {"store", opts.store_dir},
      {"policy", opts.policy_file},
      {"started", static_cast<int64_t>(time(nullptr))},
  };
  std::string path = std::string(kRuntimeDir) + "/" + majmin + ".json";
  std::string tmp = path + ".tmp" + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    if (!out) {
      spdlog::debug("event=status_file_skipped path={}", tmp);
      unlink(tmp.c_str());
      return;
    }
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    unlink(tmp.c_str());
    return;
  }
  path_ = path;
}

void RuntimeStatus::Remove() {
  if (path_.empty()) return;
  unlink(path_.c_str());
  path_.clear();
}

}  // namespace dfs::fs
