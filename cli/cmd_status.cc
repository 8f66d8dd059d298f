// digestctl status MOUNTPOINT: whether MOUNTPOINT is a live digestfs mount, and how it runs.
// Reads /proc/self/mountinfo and the daemon's runtime status file /run/digestfs/MAJ:MIN.json
// (docs/mount.md, "Runtime status"). Never touches the mount itself, so a hung daemon cannot hang
// it. Exit 0: mounted and the daemon is alive; 1: not a digestfs mount, or its daemon is gone.
#include <limits.h>
#include <signal.h>
#include <stdlib.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>

#include "cli/cli.h"
#include "common/mountinfo.h"
#include "common/log.h"

namespace dfs::cli {

namespace {

int Status(const Context& ctx, const std::string& mountpoint) {
  char canon[PATH_MAX];
  if (realpath(mountpoint.c_str(), canon) == nullptr) {
    return Fail(dfs::Status::FromErrno(errno, "status: " + mountpoint));
  }
  nlohmann::json out = {{"mountpoint", canon}, {"mounted", false}};
  auto m = FindMount(canon);
  bool ok = false;
  if (m && m->fstype == "fuse.digestfs") {
    out["mounted"] = true;
    out["device"] = m->majmin;
    out["source"] = m->source;
    out["mount_options"] = m->options;
    std::ifstream sf(std::string("/run/digestfs/") + m->majmin + ".json");
    nlohmann::json st = nlohmann::json::parse(sf, nullptr, /*allow_exceptions=*/false);
    if (st.is_object() && st.contains("pid") && st["pid"].is_number_integer()) {
      int64_t pid = st["pid"];
      bool alive = pid > 0 && (kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
      out["daemon"] = st;
      out["daemon_alive"] = alive;
      ok = alive;
    } else {
      out["daemon"] = nullptr;  // no status file: a daemon not run as root, or an old one
      ok = true;
    }
  } else if (m) {
    out["fstype"] = m->fstype;
  }
  if (ctx.json) {
    std::printf("%s\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else if (!out["mounted"].get<bool>()) {
    std::printf("%s: not a digestfs mount%s\n", LogQuote(canon).c_str(),
                m ? (" (" + m->fstype + ")").c_str() : "");
  } else {
    std::printf("mountpoint: %s\nsource:     %s\noptions:    %s\n", LogQuote(canon).c_str(),
                LogQuote(m->source).c_str(), m->options.c_str());
    if (out["daemon"].is_object()) {
      const auto& d = out["daemon"];
      std::printf(
          "daemon:     pid %lld (%s)\nmode:       %s, verify=%s\nstore:      %s\npolicy:     %s\n",
          static_cast<long long>(d.value("pid", 0LL)),
          out["daemon_alive"].get<bool>() ? "running" : "GONE",
          d.value("mode", std::string("?")).c_str(), d.value("verify", std::string("?")).c_str(),
          d.value("store", std::string("?")).c_str(),
          d.value("policy", std::string()).empty() ? "(default)"
                                                   : d.value("policy", std::string()).c_str());
    } else {
      std::printf("daemon:     (no status file in /run/digestfs)\n");
    }
  }
  return ok ? kExitOk : kExitProblem;
}

}  // namespace

void RegisterStatusCommands(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("status", "show whether MOUNTPOINT is a live digestfs mount");
  auto mountpoint = std::make_shared<std::string>();
  cmd->add_option("MOUNTPOINT", *mountpoint, "the mount point")->required();
  cmd->callback([&ctx, mountpoint] { ctx.exit_code = Status(ctx, *mountpoint); });
}

}  // namespace dfs::cli
