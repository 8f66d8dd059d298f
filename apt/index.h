// apt/index.h: apt's signed indexes: Release files (InRelease, or Release + Release.gpg) and the
// Packages files they vouch for, as apt keeps them in /var/lib/apt/lists/.
//
// The chain (docs/formats.md, "Debian archives"):
//   InRelease (clearsigned) or Release + Release.gpg  -- OpenPGP, the store's keys only
//     -> "SHA256:" lists the SHA-256 and size of every index file, by path under dists/SUITE/
//   Packages (plain, .xz, .gz, .bz2, .lz4 or .zst): the file as stored must match the Release's
//     entry for its path, or, when apt recompressed it locally (Packages.lz4, which no Release
//     lists), its decompressed content must match the entry for the path without the suffix
//     -> each stanza: Package, Version, Architecture, Filename, Size, SHA256 of one .deb
//
// File names in a lists directory are apt's: the URI of the suite with '/' as '_'
// ("deb.debian.org_debian_dists_bookworm_InRelease"); an index file is the Release's prefix
// followed by its path with '/' as '_' ("..._bookworm_main_binary-amd64_Packages"). A Packages
// file whose prefix has no verified Release, that its Release does not list, or whose SHA-256
// differs from the listed one, is not used, and the reason is kept (AptIndex::problems) so that a
// package no usable index lists is refused with it.
//
// Valid-Until: a Release whose Valid-Until lies before `now` is refused ("expired"), as is one
// whose Date lies more than a day after `now` ("not valid yet"). Dates are RFC 2822, as in
// Release files ("Sat, 11 Jul 2026 10:16:37 UTC").
//
// Fuzzing entry points: ParseRelease, ParsePackages (text in memory).
// Thread safety: an AptIndex is immutable after Load; read it from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "apt/openpgp.h"
#include "common/digest.h"
#include "common/status.h"

namespace dfs::apt {

struct ReleaseFile {
  std::string path;  // relative to the suite ("main/binary-amd64/Packages.xz")
  uint64_t size = 0;
  Digest sha256;
};

struct Release {
  std::string origin, suite, codename;
  std::optional<int64_t> date;               // seconds since the epoch
  std::optional<int64_t> valid_until;        // seconds since the epoch
  std::map<std::string, ReleaseFile> files;  // by path; only the SHA256 field counts
};

// Parses the signed text of a Release file. Errors: kCorrupt (deb822 errors, a SHA256 line that
// is not "HEX SIZE PATH" with 64 hex digits, a date that does not parse, no SHA256 field).
Result<Release> ParseRelease(std::string_view signed_text);

// Parses an RFC 2822 date as Release files write them. Errors: kCorrupt.
Result<int64_t> ParseReleaseDate(std::string_view s);

// One .deb that a signed Packages stanza lists.
struct IndexEntry {
  std::string package, version, arch;
  std::string filename;  // "pool/main/n/netbase/netbase_6.4_all.deb"
  uint64_t size = 0;
  Digest sha256;
  std::string multi_arch;  // "same", "foreign", "allowed" or ""
  std::string index;       // the Packages file (path) it came from
  std::string signer;      // key id that signed the Release
};

// Parses a Packages file's text. Stanzas without SHA256 (or with a malformed one), Size or
// Filename cannot be checked and are counted in *unusable instead of returned. Errors: kCorrupt
// (deb822 errors).
Status ParsePackages(std::string_view text, std::vector<IndexEntry>* out, size_t* unusable);

// A directory of index files: an open descriptor (O_DIRECTORY) and its name for messages.
struct ListDir {
  int fd = -1;
  std::string name;
};

struct IndexProblem {
  std::string file;
  Status status;
};

struct IndexLoadOptions {
  int64_t now = 0;  // seconds since the epoch; 0: the current time
};

class AptIndex {
 public:
  // Reads every Release and Packages file of each directory (files are opened with openat and
  // O_NOFOLLOW under the directory's descriptor). Problems with single files are kept, not
  // returned: only a failure to list a directory is an error (kIo, kNotFound).
  static Result<std::unique_ptr<AptIndex>> Load(const std::vector<ListDir>& dirs,
                                                PgpVerifier& verifier,
                                                const IndexLoadOptions& opts);

  // The stanzas for (package, version, arch), from every usable index (possibly several mirrors).
  std::vector<const IndexEntry*> Find(std::string_view package, std::string_view version,
                                      std::string_view arch) const;
  // The stanzas listing a .deb with this SHA-256.
  std::vector<const IndexEntry*> FindBySha256(const Digest& d) const;

  // Why a package no usable index lists is refused: kNotFound naming it, with the index problems
  // (if any) that may explain it.
  Status NotListed(std::string_view what) const;

  const std::vector<IndexProblem>& problems() const { return problems_; }
  size_t releases() const { return releases_; }              // verified Release files
  size_t packages_files() const { return packages_files_; }  // Packages files used
  size_t entries() const { return entries_.size(); }

 private:
  AptIndex() = default;
  std::vector<IndexEntry> entries_;
  std::multimap<std::string, size_t> by_key_;  // "package\0version\0arch"
  std::multimap<std::string, size_t> by_sha_;  // digest bytes
  std::vector<IndexProblem> problems_;
  size_t releases_ = 0, packages_files_ = 0;
};

}  // namespace dfs::apt
