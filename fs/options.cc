#include "fs/options.h"

#include <cerrno>
#include <cstdlib>
#include <string>

namespace dfs::fs {

namespace {

Status Bad(std::string msg) { return Status(Code::kInvalidArgument, std::move(msg)); }

bool ParseLevel(std::string_view v) {
  for (const char* l : {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
    if (v == l) return true;
  }
  return false;
}

// Applies one unescaped "key[=value]" option if it is a digestfs option. Returns true if consumed.
Result<bool> ApplyDigestfsOption(const std::string& opt, MountOptions* o) {
  auto eq = opt.find('=');
  std::string key = opt.substr(0, eq);
  std::string val = eq == std::string::npos ? std::string() : opt.substr(eq + 1);
  bool has_val = eq != std::string::npos;
  auto need_value = [&]() -> Status {
    if (!has_val || val.empty()) return Bad("option '" + key + "' needs a non-empty value");
    return Status::Ok();
  };
  if (key == "store") {
    DFS_RETURN_IF_ERROR(need_value());
    o->store_dir = val;
  } else if (key == "policy") {
    DFS_RETURN_IF_ERROR(need_value());
    o->policy_file = val;
  } else if (key == "mode") {
    if (val == "enforce")
      o->mode = EnforceMode::kEnforce;
    else if (val == "permissive")
      o->mode = EnforceMode::kPermissive;
    else if (val == "off")
      o->mode = EnforceMode::kOff;
    else
      return Bad("option 'mode=" + val + "': expected enforce, permissive or off");
  } else if (key == "verify") {
    if (val == "open")
      o->verify_blocks = false;
    else if (val == "blocks")
      o->verify_blocks = true;
    else
      return Bad("option 'verify=" + val + "': expected open or blocks");
  } else if (key == "tpm") {
    DFS_RETURN_IF_ERROR(need_value());
    o->tpm_tcti = val;
  } else if (key == "pcr") {
    char* end = nullptr;
    errno = 0;
    long n = std::strtol(val.c_str(), &end, 10);
    if (val.empty() || *end != '\0' || errno != 0 || n < 0 || n > 23) {
      return Bad("option 'pcr=" + val + "': expected a PCR index 0..23");
    }
    o->pcr = static_cast<int>(n);
  } else if (key == "log") {
    DFS_RETURN_IF_ERROR(need_value());
    o->log_dir = val;
  } else if (key == "kernel_log") {
    DFS_RETURN_IF_ERROR(need_value());
    o->kernel_log = val == "none" ? std::string() : val;
  } else if (key == "measure_all_sources") {
    if (has_val) return Bad("option 'measure_all_sources' takes no value");
    o->measure_all_sources = true;
  } else if (key == "max_hash_size") {
    char* end = nullptr;
    errno = 0;
    unsigned long long n = std::strtoull(val.c_str(), &end, 10);
    int shift = 0;
    if (end && *end && end[1] == '\0') {
      switch (*end) {
        case 'K':
        case 'k':
          shift = 10;
          ++end;
          break;
        case 'M':
        case 'm':
          shift = 20;
          ++end;
          break;
        case 'G':
        case 'g':
          shift = 30;
          ++end;
          break;
        case 'T':
        case 't':
          shift = 40;
          ++end;
          break;
        default:
          break;
      }
    }
    if (val.empty() || val[0] == '-' || *end != '\0' || errno != 0 || n > (~0ull >> shift)) {
      return Bad("option 'max_hash_size=" + val +
                 "': expected a size in bytes (suffix K, M, G or T)");
    }
    o->max_hash_size = static_cast<uint64_t>(n) << shift;
  } else if (key == "retrust_max") {
    char* end = nullptr;
    errno = 0;
    unsigned long long n = std::strtoull(val.c_str(), &end, 10);
    if (val.empty() || val[0] == '-' || *end != '\0' || errno != 0 || n > (1ull << 32)) {
      return Bad("option 'retrust_max=" + val + "': expected a count 0..4294967296");
    }
    o->retrust_max = static_cast<size_t>(n);
  } else if (key == "logfile") {
    if (val.empty() || val[0] != '/')
      return Bad("option 'logfile=" + val + "': expected an absolute path");
    o->logfile = val;
  } else if (key == "loglevel") {
    if (!ParseLevel(val)) {
      return Bad("option 'loglevel=" + val +
                 "': expected trace, debug, info, warn, error, critical or off");
    }
    o->loglevel = val;
  } else if (key == "timeout") {
    char* end = nullptr;
    double t = std::strtod(val.c_str(), &end);
    if (val.empty() || *end != '\0' || !(t >= 0) || t > 1e9) {
      return Bad("option 'timeout=" + val + "': expected seconds >= 0");
    }
    o->timeout = t;
  } else if (key == "threads") {
    char* end = nullptr;
    long n = std::strtol(val.c_str(), &end, 10);
    if (val.empty() || *end != '\0' || n < 0 || n > 256) {
      return Bad("option 'threads=" + val + "': expected 0..256");
    }
    o->threads = static_cast<unsigned>(n);
  } else if (key == "readahead_kb") {
    char* end = nullptr;
    long n = std::strtol(val.c_str(), &end, 10);
    if (val.empty() || *end != '\0' || n < 0 || n > 1048576) {
      return Bad("option 'readahead_kb=" + val + "': expected 0..1048576");
    }
    o->readahead_kb = static_cast<int>(n);
  } else if (key == "status_interval") {
    char* end = nullptr;
    long n = std::strtol(val.c_str(), &end, 10);
    if (val.empty() || *end != '\0' || n < 0 || n > 86400) {
      return Bad("option 'status_interval=" + val + "': expected seconds 0..86400");
    }
    o->status_interval = static_cast<unsigned>(n);
  } else if (key == "passthrough") {
    if (val == "auto") {
      o->passthrough = PassthroughMode::kAuto;
    } else if (val == "always") {
      o->passthrough = PassthroughMode::kAlways;
    } else if (val == "off") {
      o->passthrough = PassthroughMode::kOff;
    } else {
      return Bad("option 'passthrough=" + val + "': expected auto, always or off");
    }
  } else if (key == "poll_us") {
    char* end = nullptr;
    long n = std::strtol(val.c_str(), &end, 10);
    if (val.empty() || *end != '\0' || n < 0 || n > kMaxPollBudget.count()) {
      return Bad("option 'poll_us=" + val + "': expected microseconds 0.." +
                 std::to_string(kMaxPollBudget.count()));
    }
    o->poll = std::chrono::microseconds{n};
    o->poll_follows_kernel = false;
  } else if (key == "prefill_kb") {
    char* end = nullptr;
    long n = std::strtol(val.c_str(), &end, 10);
    if (val.empty() || *end != '\0' || n < 0 || n > static_cast<long>(kMaxPrefillKb)) {
      return Bad("option 'prefill_kb=" + val + "': expected KiB 0.." +
                 std::to_string(kMaxPrefillKb));
    }
    o->prefill_kb = static_cast<unsigned>(n);
  } else if (key == "watch") {
    if (val == "auto") {
      o->watch = WatchMode::kAuto;
    } else if (val == "on") {
      o->watch = WatchMode::kOn;
    } else if (val == "off") {
      o->watch = WatchMode::kOff;
    } else {
      return Bad("option 'watch=" + val + "': expected auto, on or off");
    }
  } else if (key == "selinux_xattr") {
    if (val == "auto") {
      o->selinux_xattr = SelinuxXattr::kAuto;
    } else if (val == "native") {
      o->selinux_xattr = SelinuxXattr::kNative;
    } else {
      return Bad("option 'selinux_xattr=" + val + "': expected auto or native");
    }
  } else if (key == "mt_loop") {
    if (has_val) return Bad("option 'mt_loop' takes no value");
    o->mt_loop = true;
  } else if (key == "dispatch_loop") {
    if (has_val) return Bad("option 'dispatch_loop' takes no value");
    o->mt_loop = false;
  } else {
    return false;
  }
  return true;
}

// Options of an fstab line that belong to mount(8), mount.fuse3 or systemd, not to the file
// system: mount(8) and mount.fuse3 drop them before they run digestfs, and digestfs drops them
// too, so the same list works in fstab, with -o, and in a digestfs@.service environment file.
bool IsFstabOnlyOption(std::string_view opt) {
  for (std::string_view o :
       {"defaults", "auto", "noauto", "user", "nouser", "users", "nofail", "_netdev"}) {
    if (opt == o) return true;
  }
  return opt.starts_with("x-") || opt.starts_with("X-") || opt.starts_with("comment=");
}

Status AddOptionList(std::string_view list, MountOptions* o) {
  for (std::string& raw : SplitOptionList(list)) {
    if (raw.empty() || IsFstabOnlyOption(raw)) continue;
    DFS_ASSIGN_OR_RETURN(bool consumed, ApplyDigestfsOption(UnescapeOption(raw), o));
    if (!consumed) o->fuse_opts.push_back(std::move(raw));
  }
  return Status::Ok();
}

}  // namespace

std::string_view EnforceModeName(EnforceMode m) {
  switch (m) {
    case EnforceMode::kEnforce:
      return "enforce";
    case EnforceMode::kPermissive:
      return "permissive";
    case EnforceMode::kOff:
      return "off";
  }
  return "?";
}

std::string_view WatchModeName(WatchMode w) {
  switch (w) {
    case WatchMode::kAuto:
      return "auto";
    case WatchMode::kOn:
      return "on";
    case WatchMode::kOff:
      return "off";
  }
  return "?";
}

std::string_view SelinuxXattrName(SelinuxXattr x) {
  switch (x) {
    case SelinuxXattr::kAuto:
      return "auto";
    case SelinuxXattr::kNative:
      return "native";
  }
  return "?";
}

std::vector<std::string> SplitOptionList(std::string_view list) {
  std::vector<std::string> out(1);
  for (size_t i = 0; i < list.size(); ++i) {
    char c = list[i];
    if (c == '\\' && i + 1 < list.size()) {
      out.back() += c;
      out.back() += list[++i];
    } else if (c == ',') {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  return out;
}

std::string UnescapeOption(std::string_view opt) {
  std::string out;
  out.reserve(opt.size());
  for (size_t i = 0; i < opt.size(); ++i) {
    if (opt[i] == '\\' && i + 1 < opt.size()) ++i;
    out += opt[i];
  }
  return out;
}

Result<MountOptions> ParseCommandLine(int argc, const char* const* argv) {
  MountOptions o;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "-h" || a == "--help") {
      o.show_help = true;
    } else if (a == "-V" || a == "--version") {
      o.show_version = true;
    } else if (a == "-f") {
      o.foreground = true;
    } else if (a == "-d" || a == "--debug") {
      o.debug = true;
      o.foreground = true;
    } else if (a == "-s") {
      o.single_thread = true;
    } else if (a == "-o") {
      if (i + 1 >= argc) return Bad("-o needs an option list");
      DFS_RETURN_IF_ERROR(AddOptionList(argv[++i], &o));
    } else if (a.starts_with("-o")) {
      DFS_RETURN_IF_ERROR(AddOptionList(a.substr(2), &o));
    } else if (a == "--") {
      for (++i; i < argc; ++i) positional.emplace_back(argv[i]);
    } else if (a.size() > 1 && a[0] == '-') {
      return Bad("unknown option '" + std::string(a) + "'");
    } else {
      positional.emplace_back(a);
    }
  }
  if (o.show_help || o.show_version) return o;
  if (positional.size() < 2) return Bad("missing SOURCE and MOUNTPOINT (see --help)");
  if (positional.size() > 2) return Bad("unexpected argument '" + positional[2] + "'");
  o.source = positional[0];
  o.mountpoint = positional[1];
  if (o.source.empty() || o.mountpoint.empty()) return Bad("empty SOURCE or MOUNTPOINT");
  return o;
}

std::string UsageText(std::string_view argv0) {
  std::string s =
      "usage: " + std::string(argv0) +
      " SOURCE MOUNTPOINT [-f] [-d] [-s] [-o OPTIONS]\n"
      "\n"
      "Mounts SOURCE on MOUNTPOINT (which may be SOURCE itself) through the digestfs\n"
      "integrity overlay. fstab: SOURCE MOUNTPOINT fuse.digestfs OPTIONS 0 0\n"
      "\n"
      "  -f                   stay in the foreground, log to stderr\n"
      "  -d                   libfuse debug output (implies -f)\n"
      "  -s                   single-threaded\n"
      "  -h, --help           this text\n"
      "  -V, --version        print the version\n"
      "\n"
      "digestfs options (-o, comma-separated; write a comma in a value as \\,):\n"
      "  store=DIR            digest store (default /var/lib/digestfs)\n"
      "  policy=FILE          policy file (default: the shipped default policy)\n"
      "  mode=enforce|permissive|off   off is a plain passthrough (default enforce)\n"
      "  verify=blocks|open   check every page read from the lower file against the\n"
      "                       block digests of the open (default), or only at open\n"
      "  tpm=TCTI             TPM for measurements, e.g. swtpm:host=H\\,port=P\n"
      "  pcr=N                PCR to extend (default 23)\n"
      "  log=DIR              measurement log directory\n"
      "  kernel_log=FILE|none kernel IMA log to carry in ours (default with pcr=10:\n"
      "                       /sys/kernel/security/ima/binary_runtime_measurements)\n"
      "  measure_all_sources  measure every source at mount time\n"
      "  retrust_max=N        distinct mutable paths re-trusted per mount (default 4096)\n"
      "  max_hash_size=SIZE   larger files are not hashed: unknown content (default 4G;\n"
      "                       0: no limit)\n"
      "  loglevel=LEVEL       trace|debug|info|warn|error|critical|off (default info)\n"
      "  logfile=PATH         log to PATH (created 0600, reopened at SIGHUP) instead of\n"
      "                       syslog\n"
      "  timeout=SECONDS      kernel entry/attribute cache lifetime (default 86400)\n"
      "  threads=N            worker threads for blocking operations (default 4;\n"
      "                       0 serves everything on the session thread)\n"
      "  readahead_kb=N       readahead of the mount (default: the lower device's,\n"
      "                       at least 1024; 0 keeps the kernel's 128)\n"
      "  status_interval=S    rewrite the runtime status file every S seconds\n"
      "                       (default 10; 0: only at mount and SIGUSR1)\n"
      "  passthrough=MODE     with mode=off, the kernel's FUSE passthrough for files of\n"
      "                       1 MiB or more (auto, the default), every file (always), or\n"
      "                       none (off)\n"
      "  dispatch_loop        one session thread serves the cheap requests, blocking\n"
      "                       ones go to threads=N workers (the default)\n"
      "  mt_loop              libfuse's multi-threaded loop instead\n"
      "  poll_us=N            after a request, check for the next one for up to N\n"
      "                       microseconds before sleeping (0: never; default 50,\n"
      "                       none while the kernel's fuse.wake_here is Y)\n"
      "  prefill_kb=N         an open of a file of up to N KiB whose pages the kernel\n"
      "                       does not hold fills them itself, sparing the first read\n"
      "                       a round trip (default 128; 0: never; at most 1024)\n"
      "  watch=auto|on|off    watch the lower file systems (fanotify) and drop cached\n"
      "                       names and listings when they change beneath the mount;\n"
      "                       directory opens then need no round trip (auto, the\n"
      "                       default: where it can be set up, as root; on: the same,\n"
      "                       warning where it cannot)\n"
      "  selinux_xattr=auto|native\n"
      "                       auto (the default): where neither SELinux nor EVM is in\n"
      "                       the kernel, a security.selinux the lower file lacks is\n"
      "                       answered \"not supported\", so that ls -l stops asking\n"
      "                       for each file; native: as the lower file system answers\n"
      "\n"
      "Standard FUSE and mount options (allow_other, default_permissions, ro, nodev,\n"
      "nosuid, max_read=N, ...) are passed to libfuse. Run as root, digestfs adds\n"
      "allow_other and default_permissions. Exit codes: see docs/mount.md.\n";
  return s;
}

}  // namespace dfs::fs
