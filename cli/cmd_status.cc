// digestctl status [MOUNTPOINT]: whether MOUNTPOINT (or every digestfs mount on the host) is a live
// digestfs mount, how it runs and what its daemon has counted. Reads /proc/self/mountinfo and the
// daemon's runtime status file /run/digestfs/MAJ:MIN.json (docs/mount.md, "Runtime status").
// Never touches the mount itself, so a hung daemon cannot hang it. Output: text, --json, or
// --prometheus[=FILE] (the node exporter's textfile format). Exit 0: every mount shown is a live
// digestfs mount (or, with no argument, there is none); 1: not a digestfs mount, or a daemon is
// gone.
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "common/log.h"
#include "common/mountinfo.h"
#include "common/proc_stat.h"

namespace dfs::cli {

namespace {

struct Options {
  std::string mountpoint;  // empty: every digestfs mount
  bool prometheus = false;
  std::string prometheus_file;  // "" or "-": stdout
};

// When the kernel made the FUSE connection of the mount with device MAJ:MIN: the change time of
// its directory in the fusectl file system (/sys/fs/fuse/connections/DEV, created with the
// connection, named after the kernel's device number). Empty if fusectl is not mounted.
std::optional<struct timespec> ConnectionCreated(const std::string& majmin) {
  unsigned long maj = 0, min = 0;
  if (std::sscanf(majmin.c_str(), "%lu:%lu", &maj, &min) != 2) return std::nullopt;
  struct stat st;
  const std::string dir = "/sys/fs/fuse/connections/" + std::to_string((maj << 20) | min);
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return std::nullopt;
  return st.st_ctim;
}

bool Before(const struct timespec& a, const struct timespec& b) {
  return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

// Whether the daemon that wrote status file `st` runs: its pid is a process that is not a zombie
// and, where the file has its start time and this process reads it in the same time namespace,
// that started then (not a later process given the ID of a dead daemon). kUnknown where /proc
// hides the process or the file's PID namespace is not this process's.
Liveness DaemonLiveness(const nlohmann::json& st) {
  if (!st.is_object() || !st.contains("pid") || !st["pid"].is_number_integer()) {
    return Liveness::kGone;
  }
  const int64_t pid = st["pid"];
  if (pid <= 0 || pid > INT32_MAX) return Liveness::kGone;
  auto same_ns = [&st](const char* key, const char* name) {
    const auto own = OwnNamespace(name);
    const nlohmann::json& v = st.contains(key) ? st[key] : nlohmann::json();
    return v.is_string() ? own && *own == v.get<std::string>() : !own || v.is_null();
  };
  if (st.contains("pid_ns") && !same_ns("pid_ns", "pid")) return Liveness::kUnknown;
  std::optional<uint64_t> start;
  if (st.contains("pid_start_ticks") && st["pid_start_ticks"].is_number_unsigned() &&
      same_ns("time_ns", "time")) {
    start = st["pid_start_ticks"].get<uint64_t>();
  }
  return ProcessLiveness(static_cast<pid_t>(pid), start);
}

// What `status` knows about one mount point, as the --json object. Sets *ok to false if it is not
// a live digestfs mount.
nlohmann::json Describe(const std::string& canon, const std::optional<MountEntry>& m, bool* ok) {
  nlohmann::json out = {{"mountpoint", canon}, {"mounted", false}};
  *ok = false;
  if (m && m->fstype == "fuse.digestfs") {
    out["mounted"] = true;
    out["device"] = m->majmin;
    out["source"] = m->source;
    out["mount_options"] = m->options;
    const std::string file = std::string("/run/digestfs/") + m->majmin + ".json";
    std::ifstream sf(file);
    nlohmann::json st = nlohmann::json::parse(sf, nullptr, /*allow_exceptions=*/false);
    struct stat fst;
    const bool have_mtime = st.is_object() && stat(file.c_str(), &fst) == 0;
    const Liveness live = DaemonLiveness(st);
    // Unknown (/proc hides the daemon, or it runs in another PID namespace) counts as alive, as
    // a signal 0 would: a dead mount is never reported for a daemon that may be serving.
    const bool alive = live != Liveness::kGone;
    // A file whose daemon is gone is left from an earlier mount that had the same device number
    // (its daemon was killed before it could remove it) if it names another mount point, or if
    // it was last written before this mount's FUSE connection was made (a daemon writes its
    // file after mounting): it says nothing about this mount, whose daemon may simply not write
    // one (not root). The daemon writes invalid UTF-8 as U+FFFD, so both names are compared in
    // that form.
    auto as_written = [](const nlohmann::json& v) {
      return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    };
    const bool other_mountpoint =
        st.is_object() && st.contains("mountpoint") && st["mountpoint"].is_string() &&
        as_written(st["mountpoint"]) != as_written(nlohmann::json(m->mountpoint));
    const auto conn_made = ConnectionCreated(m->majmin);
    const bool older_than_mount = have_mtime && conn_made && Before(fst.st_mtim, *conn_made);
    const bool stale = st.is_object() && !alive && (other_mountpoint || older_than_mount);
    if (stale) {
      out["daemon"] = nullptr;
      out["stale_status_file"] = true;
      *ok = true;
    } else if (st.is_object() && st.contains("pid") && st["pid"].is_number_integer()) {
      out["daemon"] = st;
      out["daemon_alive"] = alive;
      out["daemon_alive_verified"] = live != Liveness::kUnknown;
      *ok = alive;
    } else {
      out["daemon"] = nullptr;  // no status file: a daemon not run as root, or an old one
      *ok = true;
    }
  } else if (m) {
    out["fstype"] = m->fstype;
  }
  return out;
}

// Every digestfs mount in /proc/self/mountinfo, in its order.
std::vector<MountEntry> AllDigestfsMounts() {
  std::vector<MountEntry> out;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    auto m = ParseMountinfoLine(line);
    if (m && m->fstype == "fuse.digestfs") out.push_back(*m);
  }
  return out;
}

// For a mount whose daemon is gone: what the operator sees and what to do, on stderr.
void HintGone(const nlohmann::json& d) {
  const std::string mnt = d.value("mountpoint", std::string());
  std::fprintf(stderr,
               "digestctl: %s: daemon pid %lld is gone; the mount fails every access with "
               "ENOTCONN (nothing is served) until it is detached: fusermount3 -u -z %s, then "
               "mount it again\n",
               LogQuote(mnt).c_str(), static_cast<long long>(d["daemon"].value("pid", 0LL)),
               ShellQuote(mnt).c_str());
}

std::string DaemonState(const nlohmann::json& d) {
  if (!d.value("mounted", false)) return "not mounted";
  if (!d["daemon"].is_object()) return "no status file";
  if (!d.value("daemon_alive", false)) return "GONE";
  return d.value("daemon_alive_verified", true) ? "running" : "running (unverified)";
}

void PrintText(const nlohmann::json& d) {
  const std::string canon = d.value("mountpoint", std::string());
  if (!d.value("mounted", false)) {
    std::printf("%s: not a digestfs mount%s\n", LogQuote(canon).c_str(),
                d.contains("fstype") ? (" (" + d["fstype"].get<std::string>() + ")").c_str() : "");
    return;
  }
  std::printf("mountpoint: %s\nsource:     %s\noptions:    %s\n", LogQuote(canon).c_str(),
              LogQuote(d.value("source", std::string())).c_str(),
              d.value("mount_options", std::string()).c_str());
  if (!d["daemon"].is_object()) {
    std::printf(
        "daemon:     (no status file in /run/digestfs%s)\n",
        d.value("stale_status_file", false) ? "; a stale one left by an earlier mount" : "");
    return;
  }
  const auto& st = d["daemon"];
  std::printf(
      "daemon:     pid %lld (%s)\nmode:       %s, verify=%s\nstore:      %s\npolicy:     %s\n",
      static_cast<long long>(st.value("pid", 0LL)), DaemonState(d).c_str(),
      st.value("mode", std::string("?")).c_str(), st.value("verify", std::string("?")).c_str(),
      st.value("store", std::string("?")).c_str(),
      st.value("policy", std::string()).empty() ? "(default)"
                                                : st.value("policy", std::string()).c_str());
  if (st.contains("uptime_seconds")) {
    std::printf("uptime:     %lld s (counters as of %lld s ago)\n",
                static_cast<long long>(st.value("uptime_seconds", 0LL)),
                static_cast<long long>(time(nullptr) - st.value("updated", 0LL)));
  }
  if (st.contains("polling") && st["polling"].is_object()) {
    const auto& p = st["polling"];
    const long long us = p.value("poll_us", 0LL);
    std::printf("polling:    %s",
                us == 0
                    ? "off (poll_us=0)"
                    : ("up to " + std::to_string(us) + " us before each read" +
                       (p.value("follows_kernel", false) ? ", none while fuse.wake_here=Y" : ""))
                          .c_str());
    if (p.contains("device_reads") && p["device_reads"].is_object()) {
      const auto& r = p["device_reads"];
      std::printf("; reads: %s polled, %s not (host busy), %s not (wake_here)",
                  r.value("polled", nlohmann::json(0)).dump().c_str(),
                  r.value("not_polled_busy", nlohmann::json(0)).dump().c_str(),
                  r.value("not_polled_wake_here", nlohmann::json(0)).dump().c_str());
    }
    std::printf("\n");
  }
  if (st.contains("lower_watch") && st["lower_watch"].is_object()) {
    const auto& w = st["lower_watch"];
    const std::string option = w.value("option", std::string("?"));
    if (w.value("active", false)) {
      std::printf("lower watch: on (watch=%s; %s), %s changes read\n", option.c_str(),
                  w.value("no_opendir", false) ? "directory opens left to the kernel"
                                               : "not every lower file system watched",
                  w.value("changes_read", nlohmann::json(0)).dump().c_str());
    } else {
      std::printf("lower watch: off (watch=%s%s)\n", option.c_str(),
                  option == "off" ? "" : "; could not be set up or stopped, see the log");
    }
  }
  if (st.contains("counters") && st["counters"].is_object() && !st["counters"].empty()) {
    std::printf("counters:\n");
    for (const auto& [k, v] : st["counters"].items()) {
      std::printf("  %-20s %s\n", k.c_str(), v.dump().c_str());
    }
  }
  if (st.contains("fuse_requests") && st["fuse_requests"].is_object()) {
    std::printf("fuse requests:\n");
    for (const auto& [k, v] : st["fuse_requests"].items()) {
      std::printf("  %-20s %s\n", k.c_str(), v.dump().c_str());
    }
  }
}

// ---- Prometheus textfile format ----------------------------------------------------------------

// A label value: backslash, double quote and newline escaped (the exposition format's rules).
std::string PromLabel(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// A metric name from a counter name: anything outside [a-zA-Z0-9_] becomes '_'.
std::string PromName(const std::string& s) {
  std::string out;
  for (char c : s) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    out += ok ? c : '_';
  }
  return out;
}

const std::map<std::string, std::string>& CounterHelp() {
  static const std::map<std::string, std::string> h = {
      {"opens", "Opens decided by the enforcer."},
      {"inline_opens", "Opens decided at once on the session thread (no hash, no wait)."},
      {"unchecked_opens", "Opens no policy rule applied to."},
      {"cache_hits", "Opens whose content was found valid in the verdict cache."},
      {"files_hashed", "Files hashed."},
      {"bytes_hashed", "Bytes hashed."},
      {"relookups", "Store lookups redone after a store generation change."},
      {"refusals", "Opens refused (or, in permissive mode, that would have been)."},
      {"refusals_logged", "Refusal lines written to the log."},
      {"audits_logged", "Audit lines written to the log."},
      {"measurements", "Measurement log entries made."},
      {"measurement_errors", "Measurements that failed."},
      {"tpm_errors", "Measurements that failed because the TPM failed."},
      {"retrusted", "Mutable files re-trusted locally."},
      {"read_mismatches", "verify=blocks reads refused for a block digest mismatch."},
      {"reloads", "Policy reloads (SIGHUP) that took effect."},
      {"reloads_refused", "Policy reloads (SIGHUP) refused; the previous policy stayed."},
      {"cache_entries", "Entries in the verdict cache."},
      {"cache_evictions", "Verdict cache entries forgotten to stay within its bound."},
      {"log_suppressed", "Refusal log lines suppressed by the rate limit."},
  };
  return h;
}

bool IsGauge(const std::string& name) {
  return name.size() > 8 && name.compare(name.size() - 8, 8, "_entries") == 0;
}

// Renders every mount in `all` (Describe() objects) as one textfile: each metric family once,
// with its HELP and TYPE, then one sample per mount.
std::string Prometheus(const std::vector<nlohmann::json>& all) {
  struct Sample {
    std::string labels;
    std::string value;
  };
  struct Family {
    std::string help, type;
    std::vector<Sample> samples;
  };
  std::map<std::string, Family> fams;
  auto add = [&](const std::string& name, const std::string& help, const std::string& type,
                 const std::string& labels, const std::string& value) {
    Family& f = fams[name];
    f.help = help;
    f.type = type;
    f.samples.push_back({labels, value});
  };
  const int64_t now = time(nullptr);
  for (const auto& d : all) {
    const std::string mp = "mountpoint=\"" + PromLabel(d.value("mountpoint", std::string())) + "\"";
    const bool up =
        d.value("mounted", false) && (!d["daemon"].is_object() || d.value("daemon_alive", false));
    add("digestfs_up", "1 if the mount is a live digestfs mount, 0 if its daemon is gone.", "gauge",
        mp, up ? "1" : "0");
    if (!d.contains("daemon") || !d["daemon"].is_object()) continue;
    const auto& st = d["daemon"];
    if (st.contains("started") && up) {
      add("digestfs_uptime_seconds", "Seconds since the daemon mounted.", "gauge", mp,
          std::to_string(now - st.value("started", now)));
    }
    if (st.contains("updated")) {
      add("digestfs_status_updated_timestamp_seconds",
          "When the daemon last wrote its counters (Unix time).", "gauge", mp,
          std::to_string(st.value("updated", 0LL)));
    }
    if (st.contains("lower_watch") && st["lower_watch"].is_object()) {
      add("digestfs_lower_watch_active",
          "1 if changes made beneath the mount are watched (watch=), else 0.", "gauge", mp,
          st["lower_watch"].value("active", false) ? "1" : "0");
    }
    if (st.contains("counters") && st["counters"].is_object()) {
      for (const auto& [k, v] : st["counters"].items()) {
        if (!v.is_number_unsigned() && !v.is_number_integer()) continue;
        auto h = CounterHelp().find(k);
        std::string help = h != CounterHelp().end() ? h->second : "digestfs counter " + k + ".";
        if (IsGauge(k)) {
          add("digestfs_" + PromName(k), help, "gauge", mp, v.dump());
        } else {
          add("digestfs_" + PromName(k) + "_total", help, "counter", mp, v.dump());
        }
      }
    }
    if (st.contains("fuse_requests") && st["fuse_requests"].is_object()) {
      for (const auto& [k, v] : st["fuse_requests"].items()) {
        add("digestfs_fuse_requests_total", "FUSE requests served, by opcode.", "counter",
            mp + ",op=\"" + PromLabel(k) + "\"", v.dump());
      }
    }
    if (st.contains("polling") && st["polling"].is_object() &&
        st["polling"].contains("device_reads") && st["polling"]["device_reads"].is_object()) {
      for (const auto& [k, v] : st["polling"]["device_reads"].items()) {
        if (!v.is_number_unsigned() && !v.is_number_integer()) continue;
        add("digestfs_device_reads_total",
            "Reads of the FUSE device by session threads, by whether they polled first.", "counter",
            mp + ",poll=\"" + PromLabel(k) + "\"", v.dump());
      }
    }
  }
  std::string out;
  for (const auto& [name, f] : fams) {
    out += "# HELP " + name + " " + f.help + "\n";
    out += "# TYPE " + name + " " + f.type + "\n";
    for (const auto& s : f.samples) out += name + "{" + s.labels + "} " + s.value + "\n";
  }
  return out;
}

// Writes `text` to `path` atomically (a temp file in the same directory, then rename), so that a
// collector never reads half a file.
dfs::Status WriteAtomically(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp" + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      unlink(tmp.c_str());
      return dfs::Status(Code::kIo, "status: cannot write " + tmp);
    }
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    dfs::Status s = dfs::Status::FromErrno(errno, "status: renaming " + tmp + " to " + path);
    unlink(tmp.c_str());
    return s;
  }
  return dfs::Status::Ok();
}

int Run(const Context& ctx, const Options& o) {
  std::vector<nlohmann::json> all;
  bool ok = true;
  if (!o.mountpoint.empty()) {
    char canon[PATH_MAX];
    if (realpath(o.mountpoint.c_str(), canon) == nullptr) {
      return Fail(dfs::Status::FromErrno(errno, "status: " + o.mountpoint));
    }
    bool one_ok = false;
    all.push_back(Describe(canon, FindMount(canon), &one_ok));
    ok = one_ok;
  } else {
    for (const MountEntry& m : AllDigestfsMounts()) {
      bool one_ok = false;
      all.push_back(Describe(m.mountpoint, m, &one_ok));
      ok = ok && one_ok;
    }
  }
  if (o.prometheus) {
    std::string text = Prometheus(all);
    if (o.prometheus_file.empty() || o.prometheus_file == "-") {
      std::fputs(text.c_str(), stdout);
    } else if (dfs::Status s = WriteAtomically(o.prometheus_file, text); !s.ok()) {
      return Fail(s);
    }
  } else if (ctx.json) {
    nlohmann::json j = o.mountpoint.empty() ? nlohmann::json(all) : all.front();
    std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else if (!o.mountpoint.empty()) {
    PrintText(all.front());
    if (DaemonState(all.front()) == "GONE") HintGone(all.front());
  } else if (all.empty()) {
    std::printf("no digestfs mounts\n");
  } else {
    for (const auto& d : all) {
      const auto& st = d["daemon"];
      std::printf("%s  %s  pid %s  mode %s  source %s\n",
                  LogQuote(d.value("mountpoint", std::string())).c_str(), DaemonState(d).c_str(),
                  st.is_object() ? std::to_string(st.value("pid", 0LL)).c_str() : "-",
                  st.is_object() ? st.value("mode", std::string("?")).c_str() : "?",
                  LogQuote(d.value("source", std::string())).c_str());
    }
    for (const auto& d : all) {
      if (DaemonState(d) == "GONE") HintGone(d);
    }
  }
  return ok ? kExitOk : kExitProblem;
}

}  // namespace

void RegisterStatusCommands(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand(
      "status",
      "show whether MOUNTPOINT (default: every digestfs mount) is live, and its counters");
  auto o = std::make_shared<Options>();
  cmd->add_option("MOUNTPOINT", o->mountpoint, "the mount point (default: every digestfs mount)");
  cmd->add_flag("--json", ctx.json, "machine-readable output (as the global --json)");
  cmd->add_flag("--prometheus{-}", o->prometheus_file,
                "write the node exporter's textfile format to stdout, or to FILE given as "
                "--prometheus=FILE (atomically)");
  cmd->callback([&ctx, o, cmd] {
    o->prometheus = cmd->count("--prometheus") > 0;
    ctx.exit_code = Run(ctx, *o);
  });
}

}  // namespace dfs::cli
