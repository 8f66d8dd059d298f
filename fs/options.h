// fs/options.h: the digestfs command line (mount.fuse3-compatible) parsed into MountOptions.
//
//   digestfs SOURCE MOUNTPOINT [-f] [-d] [-s] [-o OPT[,OPT...]]... | --help | --version
//
// -o takes a comma-separated list; a literal comma inside a value is written "\," (e.g.
// tpm=swtpm:host=127.0.0.1\,port=2321). Options digestfs knows (store=, policy=, mode=, verify=,
// tpm=, pcr=, log=, measure_all_sources, retrust_max=, max_hash_size=, loglevel=, timeout=,
// threads=, readahead_kb=, passthrough=, mt_loop, dispatch_loop, poll_us=, prefill_kb=, watch=,
// selinux_xattr=) are consumed here; the options of an fstab line that are for mount(8),
// mount.fuse3 or systemd (defaults, auto, noauto, user, nouser, users, nofail, _netdev,
// comment=..., x-..., X-...) are dropped; every other option is kept, escaped as given, in
// `fuse_opts` and handed to libfuse, which rejects (and names) any it does not know. docs/mount.md
// documents them all.
//
// Thread safety: plain values.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "fs/device_poll.h"
#include "fs/kernel_passthrough.h"

namespace dfs::fs {

// prefill_kb=: the default, and the largest accepted (KiB).
inline constexpr unsigned kDefaultPrefillKb = 128;
inline constexpr unsigned kMaxPrefillKb = 1024;

enum class EnforceMode { kEnforce, kPermissive, kOff };

// selinux_xattr=: how a security.selinux the lower file lacks is answered (docs/mount.md,
// "SELinux labels"). kAuto: "not supported" where no module of the kernel reads the attribute
// (fs/host_lsm.h), as the lower file system answers where one may, or where securityfs cannot
// tell; kNative: always as the lower file system answers.
enum class SelinuxXattr { kAuto, kNative };

std::string_view SelinuxXattrName(SelinuxXattr x);

// watch=: whether the lower file systems are watched for changes made beneath the mount
// (docs/mount.md, "Watching the lower tree"; Passthrough::StartWatch). kAuto: where it can be set
// up (root, file systems that report handles), quietly as without it elsewhere; kOn: the same,
// with a warning where it cannot; kOff: never.
enum class WatchMode { kAuto, kOn, kOff };

std::string_view WatchModeName(WatchMode w);

std::string_view EnforceModeName(EnforceMode m);

struct MountOptions {
  std::string source;          // SOURCE: the lower tree (opened before the mount)
  std::string mountpoint;      // MOUNTPOINT (may equal SOURCE)
  bool foreground = false;     // -f: do not daemonize; log to stderr
  bool debug = false;          // -d: libfuse debug output (implies -f)
  bool single_thread = false;  // -s: single-threaded session loop
  bool show_help = false;      // -h/--help
  bool show_version = false;   // -V/--version

  // digestfs options (design.md); defaults here are the documented ones.
  std::string store_dir = "/var/lib/digestfs";  // store=DIR
  std::string policy_file;                      // policy=FILE; empty: the shipped default policy
  EnforceMode mode = EnforceMode::kEnforce;     // mode=enforce|permissive|off
  bool verify_blocks = true;                    // verify=open (false) | blocks (true, default)
  std::string tpm_tcti;                         // tpm=TCTI; empty: no TPM
  int pcr = -1;                                 // pcr=N (0..23); -1: measurement default (23)
  std::string log_dir;                          // log=DIR; empty: no measurement log
  std::optional<std::string> kernel_log;        // kernel_log=FILE|none; unset: the default
  bool measure_all_sources = false;             // measure_all_sources
  size_t retrust_max = 4096;                    // retrust_max=N: new paths re-trusted per mount
  uint64_t max_hash_size = 4ull << 30;          // max_hash_size=SIZE: larger files not hashed
  std::string logfile;            // logfile=PATH: log there instead of syslog (reopened at SIGHUP)
  std::string loglevel = "info";  // loglevel=trace|debug|info|warn|error|critical|off
  double timeout = 86400.0;       // timeout=SECONDS: kernel entry/attr cache lifetime
  unsigned threads = 4;   // threads=N: workers for blocking operations (0: all on one thread)
  int readahead_kb = -1;  // readahead_kb=N: the mount's readahead (-1: like the lower device)
  PassthroughMode passthrough = PassthroughMode::kAuto;  // passthrough=auto|always|off
  bool mt_loop = false;  // mt_loop: libfuse's multi-threaded loop; dispatch_loop (default): one
                         // session thread serving cheap requests itself, blocking ones on workers
  std::chrono::microseconds poll{kDefaultPollBudget};  // poll_us=N (0..kMaxPollBudget)
  // Without poll_us=: no polling while the kernel's fuse wakes the daemon on the caller's CPU
  // (PollBudget, device_poll.h). A given poll_us= is kept whatever the kernel does.
  bool poll_follows_kernel = true;
  unsigned prefill_kb = kDefaultPrefillKb;  // prefill_kb=N (0..kMaxPrefillKb): FsConfig::prefill_max
  WatchMode watch = WatchMode::kAuto;  // watch=auto|on|off: Passthrough::StartWatch
  SelinuxXattr selinux_xattr = SelinuxXattr::kAuto;  // selinux_xattr=auto|native
  unsigned status_interval = 10;  // status_interval=SECONDS (0..86400): runtime status rewrites;
                                  // 0: only at mount and at SIGUSR1

  // Everything else from -o, each element one option still escaped ("\,"), for libfuse.
  std::vector<std::string> fuse_opts;
};

// Parses argv. kInvalidArgument (exit code 2) names the offending argument or option:
// a missing SOURCE/MOUNTPOINT, an extra argument, a bad value (mode=, verify=, pcr=, loglevel=,
// timeout=, threads=, readahead_kb=, passthrough=, poll_us=, prefill_kb=, watch=,
// selinux_xattr=), an empty store=/policy=/log=, or an unknown dash option.
Result<MountOptions> ParseCommandLine(int argc, const char* const* argv);

// Splits one -o argument on unescaped commas. "\," becomes part of the element (still escaped).
std::vector<std::string> SplitOptionList(std::string_view list);

// Removes the escapes of one option element: "\," -> ",", "\\" -> "\".
std::string UnescapeOption(std::string_view opt);

// The --help text.
std::string UsageText(std::string_view argv0);

}  // namespace dfs::fs
