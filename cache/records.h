// cache/records.h: the records the digest store keeps, shared with the importers (packaging/),
// which build them, and the enforcer (policy/), which reads them. Plain values; see
// docs/store-format.md for how they are encoded.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/digest.h"

namespace dfs {

enum class SourceKind : uint8_t { kRpm = 1, kTlv = 2, kManifest = 3, kLocal = 4, kDeb = 5 };
enum class SourceState : uint8_t { kActive = 1, kSuperseded = 2, kRemoved = 3 };

const char* SourceKindName(SourceKind k);    // "rpm", "tlv", "manifest", "local", "deb"
// Kinds that are packages: versioned, grouped by (package, arch) for rollback (G6).
bool IsPackageKind(SourceKind k);  // rpm, deb
const char* SourceStateName(SourceState s);  // "active", "superseded", "removed"

// Flags on a source.
enum SourceFlags : uint32_t {
  kSourceUnsigned = 1u << 0,  // imported with --allow-unsigned (recorded, never silent)
  kSourceWeakAlgo = 1u << 1,  // file digests use MD5/SHA-1, imported with an explicit override
};

// Flags on one file of a source.
enum FileFlags : uint32_t {
  kFileMutable = 1u << 0,  // may change after install (RPM %config); policy treats it as mutable
  kFileConfig = 1u << 1,   // RPM %config
  kFileDoc = 1u << 2,      // RPM %doc
  // (deb conffiles are recorded as kFileMutable | kFileConfig, like RPM %config)
};

// One signed input: an RPM header, a TLV list, a manifest, or the local trust of mutable files.
struct SourceInfo {
  uint64_t id = 0;            // assigned by the store on import; 0 before
  SourceKind kind = SourceKind::kRpm;
  std::string name;           // RPM: NEVRA ("hello-2.0-1.x86_64"); deb: "hello_1:2.0-1_amd64";
                              // list/manifest: its name
  std::string package;        // RPM/deb: name ("hello"); rollback groups sources by (package, arch)
  std::string arch;           // RPM/deb: arch; else empty
  std::string version;        // RPM: "[E:]V-R", deb: "[E:]U[-R]", for ordering; else empty
  std::string signer;         // key id of the signer (hex), empty if unsigned
  Digest blob_digest;         // digest of the signed blob; what measuring the source records
  int64_t import_time = 0;    // seconds since the epoch
  SourceState state = SourceState::kActive;
  uint32_t flags = 0;         // SourceFlags
  std::string origin;         // the file it was imported from, for messages
};

// One regular file a source vouches for.
struct FileEntry {
  Digest digest;
  std::string path;  // absolute within the rootfs ("/usr/bin/hello")
  uint32_t mode = 0; // st_mode as shipped
  uint32_t flags = 0;  // FileFlags
};

// What an importer hands to the store: one source and its files.
struct ImportItem {
  SourceInfo source;
  std::vector<FileEntry> files;
};

// Where a digest came from: one record per (source, path).
struct Provenance {
  uint64_t source_id = 0;
  std::string path;  // empty if has_path is false
  uint32_t mode = 0;
  uint32_t flags = 0;
  // The file's position in its source's path-ordered file list (Store::FilePath).
  uint32_t file_index = 0;
  // False when Store::Lookup was asked not to load paths (LookupOptions.paths) and did not:
  // Store::FilePath(source_id, file_index) gives the path.
  bool has_path = true;
};

}  // namespace dfs
