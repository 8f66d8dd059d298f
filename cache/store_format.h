// cache/store_format.h: the byte encodings of the store's keys and values (docs/store-format.md).
// Internal to cache/ (and its tests): pure functions on bytes, no LMDB. Every decoder checks bounds
// and returns kCorrupt naming what it was decoding; none reads outside the buffer it is given.
//
// Thread safety: stateless functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cache/records.h"
#include "common/digest.h"
#include "common/status.h"

namespace dfs::store_format {

// The schema this build writes and the newest it reads; the oldest it reads (read-only opens read
// a v1 store as it is; a writable open upgrades it to v2 first, see docs/store-format.md).
inline constexpr uint32_t kSchemaVersion = 2;
inline constexpr uint32_t kOldestSchemaVersion = 1;
// The value of meta["format"]: tells a digestfs store from any other LMDB environment.
inline constexpr std::string_view kFormatMagic = "digestfs-store";
// Files per chunk of a source's file list, and entries between restart points inside a chunk.
inline constexpr uint32_t kChunkEntries = 256;
inline constexpr uint32_t kRestartInterval = 8;
// Index keys longer than this are shortened (prefix + SHA-256), see IndexKey().
inline constexpr size_t kMaxIndexKey = 256;

// --- primitives -----------------------------------------------------------------------------
void PutVarint(std::string* out, uint64_t v);
void PutU64BE(std::string* out, uint64_t v);
void PutU32BE(std::string* out, uint32_t v);
uint64_t GetU64BE(const uint8_t* p);
uint32_t GetU32BE(const uint8_t* p);
void PutU64LE(std::string* out, uint64_t v);
void PutU32LE(std::string* out, uint32_t v);

// The base that file modes are stored relative to (XOR), so the common modes take one byte.
inline constexpr uint32_t kModeBase = 0100644;

// A bounds-checked reader over a byte range.
class Reader {
 public:
  Reader(const void* data, size_t len) : p_(static_cast<const uint8_t*>(data)), end_(p_ + len) {}
  explicit Reader(std::string_view s) : Reader(s.data(), s.size()) {}
  bool Varint(uint64_t* v) {
    if (p_ != end_ && *p_ < 0x80) {  // the common one-byte case
      *v = *p_++;
      return true;
    }
    return VarintSlow(v);
  }
  bool U8(uint8_t* v) {
    if (p_ == end_) return false;
    *v = *p_++;
    return true;
  }
  bool U32LE(uint32_t* v);
  bool U64LE(uint64_t* v);
  bool Bytes(size_t n, const uint8_t** out) {
    if (remaining() < n) return false;
    *out = p_;
    p_ += n;
    return true;
  }
  bool String(std::string* out);  // varint length + bytes
  bool Skip(size_t n);
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  bool done() const { return p_ == end_; }
  const uint8_t* pos() const { return p_; }

 private:
  bool VarintSlow(uint64_t* v);
  template <typename T>
  bool FixedLE(T* v);  // sizeof(T) bytes, little-endian
  const uint8_t* p_;
  const uint8_t* end_;
};

// --- keys -----------------------------------------------------------------------------------
// Digest key (deny list, blob index): the kernel's hash_algo id (1 byte) then the digest bytes.
Result<std::string> DigestKey(const Digest& d);
// The same key written into a caller's buffer (no allocation: the lookup path); returns its length.
inline constexpr size_t kMaxDigestKey = 1 + 64;
Result<size_t> DigestKeyInto(const Digest& d, char (&buf)[kMaxDigestKey]);
// Key of the digests table: the algo byte and the first kIndexPrefix digest bytes. Distinct
// digests may share it; every hit is confirmed against the full digest kept in the file list, so
// a shared prefix costs one extra read, never a wrong answer.
inline constexpr size_t kIndexPrefix = 8;
std::string DigestIndexKey(std::string_view digest_key);
Result<Digest> DecodeDigestKey(std::string_view key);
// Source key and file-chunk key: big-endian so LMDB's byte order is numeric order.
std::string SourceKey(uint64_t id);
std::string ChunkKey(uint64_t source_id, uint32_t chunk);
// Keys of the name / group indexes: the text itself, or, if longer than kMaxIndexKey, a prefix
// and the SHA-256 of the whole (an index hit is always confirmed against the source record).
std::string IndexKey(std::string_view text);
std::string GroupKey(SourceKind kind, std::string_view package, std::string_view arch);

// --- values ---------------------------------------------------------------------------------
// A reference from a digest to one file of one source.
struct FileRef {
  uint64_t source_id = 0;
  uint32_t index = 0;   // position in the source's path-ordered file list
  uint32_t offset = 0;  // schema 2: byte offset of the file's entry in its chunk value (0 in v1)
  friend bool operator==(const FileRef&, const FileRef&) = default;
};
// digests value, in insertion order. Schema 2 (written): varint source id, varint index, varint
// offset each. Schema 1 (read only, and upgraded): varint source id, varint index each.
void EncodeRefs(const std::vector<FileRef>& refs, std::string* out);
Status DecodeRefs(std::string_view v, std::vector<FileRef>* out, uint32_t schema = kSchemaVersion);
// Reads the next ref of a digests value in place (no allocation): false at the end; kCorrupt
// (in *st) for a malformed list.
bool NextRef(Reader* r, uint32_t schema, FileRef* out, Status* st);

// sources value.
std::string EncodeSource(const SourceInfo& s, uint64_t file_count);
Status DecodeSource(std::string_view v, SourceInfo* out, uint64_t* file_count);

// One chunk of a source's file list (files must be in path order; at most kChunkEntries). With
// offsets, also the byte offset of each entry in the returned value (what schema-2 refs hold).
std::string EncodeChunk(const FileEntry* files, size_t n, std::vector<uint32_t>* offsets = nullptr);
// Decodes every entry of a chunk (with offsets: each entry's byte offset in v, as above).
Status DecodeChunk(std::string_view v, std::vector<FileEntry>* out,
                   std::vector<uint32_t>* offsets = nullptr);
// Decodes only entry `i` of a chunk (jumps to its restart point).
Status DecodeChunkEntry(std::string_view v, uint32_t i, FileEntry* out);

// Reads entry `i` of a chunk only if its digest equals `digest_key` (a DigestKey): *match says
// whether it did; path, mode and flags are filled only on a match. The lookup hit path: nothing
// is copied or allocated before the digest matches (then the path, once).
Status MatchChunkEntry(std::string_view v, uint32_t i, std::string_view digest_key,
                       std::string* path, uint32_t* mode, uint32_t* flags, bool* match);

// Schema 2's hit path: the entry that starts at byte `offset` of a chunk, matched against
// `digest_key` in place; mode and flags are filled only on a match. Touches only the entry's
// bytes (not the chunk header). An offset outside the value, or an entry that does not fit, is
// kCorrupt.
Status MatchEntryAt(std::string_view v, uint32_t offset, std::string_view digest_key,
                    uint32_t* mode, uint32_t* flags, bool* match);
// The path of entry `i` of a chunk, which must start at byte `offset` (as the ref says; anything
// else is kCorrupt): front coding makes it walk from the entry's restart point.
Status ChunkEntryPath(std::string_view v, uint32_t i, uint32_t offset, std::string* path);

// deny value: varint time added, then the reason.
std::string EncodeDeny(int64_t added, std::string_view reason);
Status DecodeDeny(std::string_view v, int64_t* added, std::string* reason);

// rpm-style version ordering of "[E:]V-R" strings: <0, 0, >0 like strcmp.
int CompareVersions(std::string_view a, std::string_view b);
// dpkg's version ordering of "[E:]U[-R]" strings (deb-version(7): '~' sorts before everything,
// even the end; letters before other characters): <0, 0, >0 like strcmp.
int CompareDebVersions(std::string_view a, std::string_view b);
// The ordering for a package kind (rpm or deb).
int CompareVersionsOf(SourceKind kind, std::string_view a, std::string_view b);

}  // namespace dfs::store_format
