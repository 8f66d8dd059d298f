// apt/import.h: turns Debian packages into store import items (cache/records.h), each one checked
// along apt's chain: signed Release -> Packages -> .deb -> data.tar (apt/index.h, apt/deb.h).
// Two inputs: the installed packages of a root tree (`digestctl import apt --root`) and given
// .deb files (`digestctl import deb`).
//
// What a source holds (docs/formats.md, "Debian archives"):
// - kind deb; name "PACKAGE_VERSION_ARCH" (the version as dpkg writes it, epoch included);
//   package, version, arch; signer: the key id that signed the Release; blob_digest: the .deb's
//   SHA-256 (what the source's measurement records, G8); origin: the .deb's path.
// - every regular file of data.tar at its path, mode and SHA-256. Conffiles (the control
//   archive's "conffiles", which the signature covers) are flagged kFileMutable | kFileConfig,
//   like RPM %config. With a root, a path under a top-level directory that the root makes a
//   symlink (merged /usr: /bin -> usr/bin, /lib -> usr/lib, ...) is recorded at the path the file
//   really has (/usr/bin/ls), so that bind=path matches what the mount sees.
// - the control archive's members that dpkg installs into /var/lib/dpkg/info/ (every member but
//   "control", "list" and names with a '.'), at /var/lib/dpkg/info/PACKAGE.MEMBER, or
//   PACKAGE:ARCH.MEMBER for a Multi-Arch: same package: maintainer scripts (preinst, postinst,
//   prerm, postrm, config), md5sums, conffiles, triggers, templates, shlibs, symbols...
//
// Per-package refusals (each names the package and the file, nothing of a refused package is
// imported): kNotFound (no usable signed index lists it -- with the index problems that may
// explain why --, or no .deb for it in the given directories), kCorrupt (a .deb whose size or
// SHA-256 differs from its stanza, truncated, not a .deb, unsafe member names, control fields
// that differ from the stanza's Package/Version/Architecture), kUnsigned / kNoKey /
// kBadSignature (every index that could list it failed its signature check).
//
// Thread safety: functions over their arguments; one PgpVerifier per call (used before the .debs
// are read, from the calling thread only). ImportRoot reads .debs on AptImportOptions.jobs threads.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "apt/deb.h"
#include "apt/index.h"
#include "apt/openpgp.h"
#include "cache/records.h"
#include "common/status.h"

namespace dfs::apt {

// One installed package of a dpkg status file.
struct InstalledPackage {
  std::string package, version, arch;
};

// Parses a dpkg status file and returns the installed packages: those whose Status is
// "install|hold ok installed" (or triggers-pending / triggers-awaited: unpacked and configured,
// only triggers left). Errors: kCorrupt (deb822 errors, a stanza without Package, Version or
// Architecture). Fuzzing entry point.
Status ParseDpkgStatus(std::string_view text, std::vector<InstalledPackage>* out);

// Top-level symlinks of a root tree ("/bin" -> "/usr/bin"): only relative targets without "..".
struct PathAliases {
  std::vector<std::pair<std::string, std::string>> map;  // ("/bin", "/usr/bin")
  std::string Apply(const std::string& path) const;
};
PathAliases ReadPathAliases(int rootfd);

// The name of a deb source: "PACKAGE_VERSION_ARCH".
std::string DebSourceName(std::string_view package, std::string_view version,
                          std::string_view arch);

// Builds the item of a .deb that matched `entry` (size and SHA-256 already compared). Checks the
// control file's Package, Version and Architecture against the entry. Errors: kCorrupt.
Result<ImportItem> BuildDebItem(const IndexEntry& entry, const DebContents& deb,
                                const PathAliases& aliases, const std::string& origin);

struct DebOutcome {
  std::string input;  // "PACKAGE VERSION ARCH" (root) or the .deb path (files)
  Result<ImportItem> item = Status(Code::kInternal, "not read");
  uint64_t deb_bytes = 0;  // bytes of .deb read and hashed
};

struct AptImportResult {
  std::vector<DebOutcome> packages;
  std::vector<IndexProblem> problems;  // index files that were not usable, and why
  size_t releases = 0;                 // verified Release files
  size_t indexes = 0;                  // Packages files used
};

struct AptImportOptions {
  int64_t now = 0;  // seconds since the epoch for Valid-Until; 0: the current time
  // Called after each package with (done, total), from the reading threads (serialised).
  std::function<void(size_t, size_t)> progress;
  // Threads reading .debs for ImportRoot; 0: the number of CPUs, at most 4.
  size_t jobs = 0;
};

// The installed packages of `root`: ROOT/var/lib/dpkg/status, with the indexes of
// ROOT/var/lib/apt/lists and `lists`, and the .debs of ROOT/var/cache/apt/archives and `debs`
// (a .deb is found by its stanza's Filename base name, or apt's PACKAGE_VERSION_ARCH.deb with ':'
// as "%3a"). Paths inside the root are resolved within it. Errors: kNotFound / kIo when the root
// or its status file cannot be read, or a given directory cannot be listed; kCorrupt for a status
// file that does not parse. Per-package refusals are in the outcomes.
Result<AptImportResult> ImportRoot(const std::string& root, const std::vector<std::string>& lists,
                                   const std::vector<std::string>& debs, PgpVerifier& verifier,
                                   const AptImportOptions& opts);

// Given .deb files, each matched to a stanza by its SHA-256. Errors: as ImportRoot's for the
// lists directories.
Result<AptImportResult> ImportDebFiles(const std::vector<std::string>& files,
                                       const std::vector<std::string>& lists, PgpVerifier& verifier,
                                       const AptImportOptions& opts);

}  // namespace dfs::apt
