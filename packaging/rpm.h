// packaging/rpm.h: turns signed RPM headers into store import items (cache/records.h), with
// librpm 4.18. Two inputs: package files (`digestctl import rpm`) and the installed-package
// database of a root tree (`digestctl import rpmdb`).
//
// What is checked (docs/formats.md, "RPM"):
// - The header signature (RPMTAG_RSAHEADER or RPMTAG_DSAHEADER, OpenPGP) is required and must
//   verify, against the keyring given at construction, over the 8-byte header magic
//   8e ad e8 01 00 00 00 00 followed by the RPMTAG_HEADERIMMUTABLE region. librpm's own
//   rpmReadPackageFile is used only to read the header: it accepts unsigned packages.
// - For a package file, the payload (every byte after the header) must hash to
//   RPMTAG_PAYLOADDIGEST (algorithm RPMTAG_PAYLOADDIGESTALGO; absent means SHA-256, as rpm 6
//   names tag 5092 PAYLOADSHA256). A package without a payload digest is refused unless unsigned
//   packages are allowed.
// - File digests are read per RPMTAG_FILEDIGESTALGO (absent: MD5). MD5 and SHA-1 are refused unless
//   allow_weak.
// What is recorded: each regular file's path, mode, digest and flags (%config → kFileMutable |
// kFileConfig, %doc → kFileDoc). %ghost files, directories, symlinks and other non-regular files
// are not recorded (they carry no digest). The source: kind rpm, name = NEVRA, package, arch,
// version "[E:]V-R", signer key id, blob_digest = SHA-256(magic + immutable region), origin.
//
// Errors (every message names the package file or NEVRA): kUnsigned (no header signature),
// kNoKey (signed by a key not in the keyring), kBadSignature (signature does not verify),
// kCorrupt (unreadable header, payload digest mismatch, truncated payload), kUnsupported (weak or
// unknown digest algorithm), kNotFound / kIo (file or database cannot be read).
//
// Thread safety: librpm has process-global state; use an RpmImporter from one thread, and only one
// at a time per process.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cache/records.h"
#include "common/status.h"

namespace dfs {

struct RpmImportOptions {
  bool allow_unsigned = false;  // import unsigned headers, flagged kSourceUnsigned
  bool allow_weak = false;      // accept MD5/SHA-1 file digests, flagged kSourceWeakAlgo
};

// One installed package of an rpmdb: its NEVRA and either the item or why it was refused.
struct RpmdbPackage {
  std::string nevra;
  Result<ImportItem> item = Status(Code::kInternal, "not read");
};

class RpmImporter {
 public:
  // Builds the keyring from OpenPGP public keys (binary packets, as KeyStore stores them); each
  // key's subkeys are added too. Errors: kInvalidArgument naming the index of a key librpm cannot
  // parse; kInternal if librpm cannot be initialised.
  static Result<std::unique_ptr<RpmImporter>> Create(
      const std::vector<std::vector<uint8_t>>& pgp_keys);
  ~RpmImporter();

  // Reads and verifies one package file.
  Result<ImportItem> ReadPackageFile(const std::string& path, const RpmImportOptions& opts);

  // Where the rpmdb of `root` is: `dbpath` if given (relative to root), else the first of
  // /usr/lib/sysimage/rpm and /var/lib/rpm that holds a database. Errors: kNotFound.
  static Result<std::string> FindDbPath(const std::string& root, const std::string& dbpath);

  // Reads every installed header of the rpmdb at root/dbpath (gpg-pubkey entries skipped) and
  // verifies each signature (no payload exists for installed packages). `progress`, if set, is
  // called after each header with the count so far. Errors: kNotFound / kIo if the database
  // cannot be opened; per-package refusals are in RpmdbPackage::item.
  Result<std::vector<RpmdbPackage>> ReadRpmdb(const std::string& root, const std::string& dbpath,
                                              const RpmImportOptions& opts,
                                              const std::function<void(size_t)>& progress = {});

 private:
  struct Impl;
  explicit RpmImporter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dfs
