// packaging/manifest.h: signed manifests, for images without a package manager
// (docs/formats.md, "Signed manifests").
//
// A manifest file is a text body followed by a detached CMS signature over the body's bytes:
//
//   digestfs-manifest 1
//   name <field>
//   algo sha256
//   file <hex digest> <octal mode> <field path>
//   ...
//   -----BEGIN CMS-----
//   <base64>
//   -----END CMS-----
//
// <field> is %-escaped (file_util.h EscapeField: bytes outside printable ASCII, space, '%' and '\'
// as %XX), so any file name fits on one line and cannot forge a line. Paths are absolute within the
// tree, normalised (no empty, "." or ".." components), strictly ascending by byte order, unique.
//
// Thread safety: pure functions, plus file system reads in BuildManifest.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cache/records.h"
#include "common/digest.h"
#include "common/status.h"

namespace dfs {

struct ManifestEntry {
  Digest digest;
  uint32_t mode = 0;  // st_mode of the file when the manifest was made
  std::string path;   // "/etc/hosts"
};

struct Manifest {
  std::string name;
  HashAlgo algo = HashAlgo::kSha256;
  std::vector<ManifestEntry> entries;  // sorted by path
};

struct BuildStats {
  uint64_t files = 0;
  uint64_t skipped = 0;  // symlinks, devices, sockets, fifos (not recorded)
  uint64_t bytes = 0;
};

// Walks the tree at `dir` relative to directory fds (openat, O_NOFOLLOW; symlinks are never
// followed, not even for directories) and hashes every regular file. Does not cross into other
// file systems. Errors: kNotFound / kIo naming the path that failed; kInvalidArgument if `dir` is
// not a directory.
Result<Manifest> BuildManifest(const std::string& dir, const std::string& name, HashAlgo algo,
                               BuildStats* stats = nullptr);

// The body text (what is signed).
std::string ManifestBody(const Manifest& m);
// Parses a body. Errors: kInvalidArgument naming the line and rule.
Result<Manifest> ParseManifestBody(std::string_view body);

// The complete manifest file: body + PEM CMS signature made with key_pem/cert.
Result<std::string> SignManifest(const Manifest& m, std::span<const uint8_t> key_pem,
                                 std::span<const uint8_t> cert);

// Splits a manifest file into body and DER signature. Errors: kUnsigned (no signature block),
// kInvalidArgument (damaged PEM block or text after it).
struct ManifestParts {
  std::string_view body;
  std::vector<uint8_t> signature_der;
};
Result<ManifestParts> SplitManifest(std::string_view file);

// Reads, verifies against `trusted_certs` (DER; `trusted_ids` parallel) and parses a manifest
// file. The source: kind manifest, name from the body, signer = the key id of the signing
// certificate, blob_digest = SHA-256 of the body, origin = path.
// Errors: kUnsigned, kNoKey, kBadSignature, kInvalidArgument (malformed), kNotFound / kIo.
// Messages name the file.
Result<ImportItem> ReadManifestFile(const std::string& path,
                                    const std::vector<std::vector<uint8_t>>& trusted_certs,
                                    const std::vector<std::string>& trusted_ids);

}  // namespace dfs
