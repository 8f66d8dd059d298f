// packaging/tlv.h: kernel digest lists in the Integrity Digest Cache v6 TLV format, and the
// module-style appended PKCS#7 signature (docs/formats.md, "TLV digest lists").
//
// Format: a sequence of `u16 field (BE) | u32 length (BE) | value`. Top level: 0 ALGO (length 2,
// u16 BE kernel hash_algo), 1 NUM_ENTRIES (length 4, u32 BE), 2 ENTRY (value: nested TLV of
// 0 ENTRY_DIGEST (algorithm's digest length) and 1 ENTRY_PATH (NUL-terminated)).
// Rules this parser enforces (a violation rejects the whole list): every header complete; every
// length within the remaining bytes; no unknown field id at either level; ALGO exactly once, first,
// length 2, a known algorithm; NUM_ENTRIES at most once, length 4, before any entry and equal to
// the number of entries; each entry holds exactly one digest of the algorithm's length and at most
// one path, non-empty, NUL-terminated, without an inner NUL; a list of at most 16 MiB.
//
// Signature: [list][PKCS#7 DER][struct module_signature, 12 bytes][“~Module signature
// appended~\n”], module_signature = {u8 algo, u8 hash, u8 id_type (2 = PKCS#7), u8 signer_len, u8
// key_id_len, u8 pad[3], u32 sig_len BE}.
//
// Thread safety: pure functions over values.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cache/records.h"
#include "common/digest.h"
#include "common/status.h"

namespace dfs {

inline constexpr size_t kTlvMaxListSize = 16u << 20;

struct TlvEntry {
  Digest digest;
  std::optional<std::string> path;  // without the NUL
};

struct TlvList {
  HashAlgo algo = HashAlgo::kUnknown;
  std::vector<TlvEntry> entries;
};

// Parses a list (without any signature). Errors: kInvalidArgument naming the rule and byte offset.
Result<TlvList> ParseTlv(std::span<const uint8_t> data);

// Serialises a list: ALGO, NUM_ENTRIES, then the entries in order. Errors: kInvalidArgument (an
// algorithm the kernel has no id for, or a digest of the wrong length).
Result<std::vector<uint8_t>> WriteTlv(const TlvList& list);

// A file split into the signed list and its appended signature, if any.
struct SignedBlob {
  std::span<const uint8_t> content;    // the list
  std::span<const uint8_t> signature;  // PKCS#7 DER; empty if the file is unsigned
};

// Splits off a module-style signature. A file without the trailer is returned unsigned.
// Errors: kInvalidArgument (trailer present but struct module_signature malformed: id_type is not
// PKCS#7, signer_len/key_id_len/algo/hash not zero, sig_len larger than the file).
Result<SignedBlob> SplitModuleSignature(std::span<const uint8_t> file);

// Appends a module-style signature block (PKCS#7 DER) to `content`.
std::vector<uint8_t> AppendModuleSignature(std::span<const uint8_t> content,
                                           std::span<const uint8_t> pkcs7_der);

struct TlvImportOptions {
  bool allow_unsigned = false;  // import lists without a signature, flagged kSourceUnsigned
  bool allow_weak = false;      // accept MD5/SHA-1 lists, flagged kSourceWeakAlgo
};

// Turns a verified TLV file into an import item. `trusted_certs` are DER X.509 certificates with
// their key ids (parallel vectors). The source: kind tlv, name = the file's base name, signer =
// the key id of the certificate that signed it, blob_digest = SHA-256 of the list bytes (without
// the signature), origin = path. Modes are 0 (a list carries none). The store binds every digest
// to an absolute path, so entries without a path are left out and counted in *pathless.
// Errors: kUnsigned (no signature and !allow_unsigned), kNoKey, kBadSignature, kUnsupported (weak
// algorithm without allow_weak), kInvalidArgument
// (malformed list or signature block), kNotFound / kIo. Messages name the file.
Result<ImportItem> ReadTlvFile(const std::string& path,
                               const std::vector<std::vector<uint8_t>>& trusted_certs,
                               const std::vector<std::string>& trusted_ids,
                               const TlvImportOptions& opts, size_t* pathless = nullptr);

}  // namespace dfs
