#include "cache/store_format.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "crypto/hash.h"

namespace dfs::store_format {

namespace {
Status Corrupt(std::string_view what) {
  return Status(Code::kCorrupt, "store record is malformed: " + std::string(what));
}
}  // namespace

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void PutU64BE(std::string* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutU32BE(std::string* out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
namespace {
template <typename T>
void PutFixedLE(std::string* out, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
}  // namespace
void PutU64LE(std::string* out, uint64_t v) { PutFixedLE(out, v); }
void PutU32LE(std::string* out, uint32_t v) { PutFixedLE(out, v); }
uint64_t GetU64BE(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | p[i];
  return v;
}
uint32_t GetU32BE(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = v << 8 | p[i];
  return v;
}

bool Reader::VarintSlow(uint64_t* v) {
  uint64_t r = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (p_ == end_) return false;
    uint8_t b = *p_++;
    if (shift == 63 && b > 1) return false;
    r |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = r;
      return true;
    }
  }
  return false;
}
template <typename T>
bool Reader::FixedLE(T* v) {
  if (remaining() < sizeof(T)) return false;
  T r = 0;
  for (int i = static_cast<int>(sizeof(T)) - 1; i >= 0; --i) r = static_cast<T>(r << 8 | p_[i]);
  p_ += sizeof(T);
  *v = r;
  return true;
}
bool Reader::U32LE(uint32_t* v) { return FixedLE(v); }
bool Reader::U64LE(uint64_t* v) { return FixedLE(v); }
bool Reader::String(std::string* out) {
  uint64_t n;
  const uint8_t* b;
  if (!Varint(&n) || n > remaining() || !Bytes(n, &b)) return false;
  out->assign(reinterpret_cast<const char*>(b), n);
  return true;
}
bool Reader::Skip(size_t n) {
  if (remaining() < n) return false;
  p_ += n;
  return true;
}

// --- keys -----------------------------------------------------------------------------------

Result<size_t> DigestKeyInto(const Digest& d, char (&buf)[kMaxDigestKey]) {
  uint16_t id = HashAlgoToKernelId(d.algo);
  if (id == 0 || id > 255) {
    return Status(Code::kInvalidArgument,
                  "digest algorithm '" + std::string(HashAlgoName(d.algo)) + "' cannot be stored");
  }
  if (d.bytes.size() != HashAlgoSize(d.algo) || d.bytes.size() + 1 > kMaxDigestKey) {
    return Status(Code::kInvalidArgument, "digest " + d.ToString() + " has the wrong length for " +
                                              std::string(HashAlgoName(d.algo)));
  }
  buf[0] = static_cast<char>(id);
  std::memcpy(buf + 1, d.bytes.data(), d.bytes.size());
  return 1 + d.bytes.size();
}

Result<std::string> DigestKey(const Digest& d) {
  char buf[kMaxDigestKey];
  DFS_ASSIGN_OR_RETURN(size_t n, DigestKeyInto(d, buf));
  return std::string(buf, n);
}

Result<Digest> DecodeDigestKey(std::string_view key) {
  if (key.empty()) return Corrupt("empty digest key");
  HashAlgo a = HashAlgoFromKernelId(static_cast<uint8_t>(key[0]));
  if (a == HashAlgo::kUnknown || key.size() != 1 + HashAlgoSize(a)) {
    return Corrupt("digest key with unknown algorithm or wrong length");
  }
  Digest d;
  d.algo = a;
  d.bytes.assign(key.begin() + 1, key.end());
  return d;
}

std::string DigestIndexKey(std::string_view digest_key) {
  return std::string(digest_key.substr(0, 1 + kIndexPrefix));
}

std::string SourceKey(uint64_t id) {
  std::string k;
  PutU64BE(&k, id);
  return k;
}

std::string ChunkKey(uint64_t source_id, uint32_t chunk) {
  std::string k;
  PutU64BE(&k, source_id);
  PutU32BE(&k, chunk);
  return k;
}

std::string IndexKey(std::string_view text) {
  if (text.size() <= kMaxIndexKey && !text.empty()) return std::string(text);
  // Empty text gets a key too (LMDB refuses zero-length keys): a single NUL byte, which no
  // non-empty name can equal since names are checked for NULs on import.
  if (text.empty()) return std::string(1, '\0');
  std::string k(text.substr(0, kMaxIndexKey - 33));
  k.push_back('\0');
  auto h = HashBytes(HashAlgo::kSha256, text.data(), text.size());
  if (h.ok()) k.append(reinterpret_cast<const char*>(h->bytes.data()), h->bytes.size());
  return k;
}

std::string GroupKey(SourceKind kind, std::string_view package, std::string_view arch) {
  std::string t;
  t.push_back(static_cast<char>(kind));
  t.append(package);
  t.push_back('\0');
  t.append(arch);
  return IndexKey(t);
}

// --- values ---------------------------------------------------------------------------------

void EncodeRefs(const std::vector<FileRef>& refs, std::string* out) {
  out->clear();
  for (const FileRef& r : refs) {
    PutVarint(out, r.source_id);
    PutVarint(out, r.index);
    PutVarint(out, r.offset);
  }
}

bool NextRef(Reader* r, uint32_t schema, FileRef* out, Status* st) {
  if (r->done()) return false;
  uint64_t sid, idx, off = 0;
  if (!r->Varint(&sid) || !r->Varint(&idx) || (schema >= 2 && !r->Varint(&off)) || sid == 0 ||
      idx > UINT32_MAX || off > UINT32_MAX) {
    *st = Corrupt("digest provenance list");
    return false;
  }
  *out = FileRef{sid, static_cast<uint32_t>(idx), static_cast<uint32_t>(off)};
  return true;
}

Status DecodeRefs(std::string_view v, std::vector<FileRef>* out, uint32_t schema) {
  out->clear();
  Reader r(v);
  FileRef ref;
  Status st;
  while (NextRef(&r, schema, &ref, &st)) out->push_back(ref);
  DFS_RETURN_IF_ERROR(st);
  if (out->empty()) return Corrupt("empty digest provenance list");
  return Status::Ok();
}

namespace {
constexpr uint8_t kSourceRecordVersion = 1;

void PutString(std::string* out, std::string_view s) {
  PutVarint(out, s.size());
  out->append(s);
}

void PutDigest(std::string* out, const Digest& d) {
  out->push_back(static_cast<char>(HashAlgoToKernelId(d.algo)));
  PutVarint(out, d.bytes.size());
  out->append(reinterpret_cast<const char*>(d.bytes.data()), d.bytes.size());
}

bool GetDigest(Reader* r, Digest* d) {
  uint8_t id;
  uint64_t n;
  const uint8_t* b;
  if (!r->U8(&id) || !r->Varint(&n) || !r->Bytes(n, &b)) return false;
  d->algo = HashAlgoFromKernelId(id);
  if (n == 0 && id == 0) {
    d->bytes.clear();
    return true;
  }
  if (d->algo == HashAlgo::kUnknown || n != HashAlgoSize(d->algo)) return false;
  d->bytes.assign(b, b + n);
  return true;
}
}  // namespace

std::string EncodeSource(const SourceInfo& s, uint64_t file_count) {
  std::string out;
  out.push_back(static_cast<char>(kSourceRecordVersion));
  out.push_back(static_cast<char>(s.kind));
  out.push_back(static_cast<char>(s.state));
  PutVarint(&out, s.flags);
  PutVarint(&out, static_cast<uint64_t>(s.import_time));
  PutVarint(&out, file_count);
  PutDigest(&out, s.blob_digest);
  PutString(&out, s.name);
  PutString(&out, s.package);
  PutString(&out, s.arch);
  PutString(&out, s.version);
  PutString(&out, s.signer);
  PutString(&out, s.origin);
  return out;
}

Status DecodeSource(std::string_view v, SourceInfo* out, uint64_t* file_count) {
  Reader r(v);
  uint8_t ver, kind, state;
  uint64_t flags, t, n;
  if (!r.U8(&ver) || ver != kSourceRecordVersion) return Corrupt("source record version");
  if (!r.U8(&kind) || kind < 1 || kind > 5) return Corrupt("source kind");
  if (!r.U8(&state) || state < 1 || state > 3) return Corrupt("source state");
  if (!r.Varint(&flags) || flags > UINT32_MAX || !r.Varint(&t) || !r.Varint(&n)) {
    return Corrupt("source header");
  }
  out->kind = static_cast<SourceKind>(kind);
  out->state = static_cast<SourceState>(state);
  out->flags = static_cast<uint32_t>(flags);
  out->import_time = static_cast<int64_t>(t);
  if (file_count) *file_count = n;
  if (!GetDigest(&r, &out->blob_digest)) return Corrupt("source blob digest");
  if (!r.String(&out->name) || !r.String(&out->package) || !r.String(&out->arch) ||
      !r.String(&out->version) || !r.String(&out->signer) || !r.String(&out->origin)) {
    return Corrupt("source strings");
  }
  if (!r.done()) return Corrupt("trailing bytes in source record");
  return Status::Ok();
}

// Chunk layout: varint count, varint restart count, u32 LE offset of each restart entry (from
// the start of the entry area), then the entries. An entry: u8 kernel algo id, digest bytes,
// varint mode, varint flags, varint shared prefix with the previous path (0 at restarts),
// varint suffix length, suffix bytes.
std::string EncodeChunk(const FileEntry* files, size_t n, std::vector<uint32_t>* offsets) {
  std::string body;
  std::vector<uint32_t> starts;
  std::vector<uint32_t> restarts;
  std::string_view prev;
  for (size_t i = 0; i < n; ++i) {
    const FileEntry& f = files[i];
    size_t shared = 0;
    if (i % kRestartInterval == 0) {
      restarts.push_back(static_cast<uint32_t>(body.size()));
    } else {
      size_t lim = std::min(prev.size(), f.path.size());
      while (shared < lim && prev[shared] == f.path[shared]) ++shared;
    }
    if (offsets) starts.push_back(static_cast<uint32_t>(body.size()));
    body.push_back(static_cast<char>(HashAlgoToKernelId(f.digest.algo)));
    body.append(reinterpret_cast<const char*>(f.digest.bytes.data()), f.digest.bytes.size());
    PutVarint(&body, f.mode ^ kModeBase);
    PutVarint(&body, f.flags);
    PutVarint(&body, shared);
    PutVarint(&body, f.path.size() - shared);
    body.append(f.path, shared, std::string::npos);
    prev = f.path;
  }
  std::string out;
  PutVarint(&out, n);
  PutVarint(&out, restarts.size());
  for (uint32_t r : restarts) PutU32LE(&out, r);
  if (offsets) {
    offsets->clear();
    for (uint32_t o : starts) offsets->push_back(static_cast<uint32_t>(out.size()) + o);
  }
  out += body;
  return out;
}

namespace {
struct ChunkHeader {
  uint64_t count = 0;
  uint64_t restarts = 0;
  const uint8_t* table = nullptr;  // restart offsets, u32 LE each
  const uint8_t* body = nullptr;
  size_t body_len = 0;
  uint32_t Restart(uint64_t k) const {
    const uint8_t* p = table + 4 * k;
    return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
           static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
  }
};

Status ParseChunkHeader(std::string_view v, ChunkHeader* h) {
  Reader r(v);
  if (!r.Varint(&h->count) || h->count > kChunkEntries || !r.Varint(&h->restarts) ||
      h->restarts != (h->count + kRestartInterval - 1) / kRestartInterval ||
      !r.Bytes(4 * h->restarts, &h->table)) {
    return Corrupt("file chunk header");
  }
  h->body = r.pos();
  h->body_len = r.remaining();
  return Status::Ok();
}

// Decodes one entry; the path is rebuilt in *path (prefix-shared with the previous one). With
// out == nullptr the digest and mode are only skipped.
bool DecodeEntry(Reader* r, std::string* path, FileEntry* out) {
  uint8_t id;
  const uint8_t* b;
  uint64_t mode, flags, shared, len;
  if (!r->U8(&id)) return false;
  HashAlgo a = HashAlgoFromKernelId(id);
  size_t dl = HashAlgoSize(a);
  if (dl == 0 || !r->Bytes(dl, &b)) return false;
  if (!r->Varint(&mode) || !r->Varint(&flags) || !r->Varint(&shared) || !r->Varint(&len)) {
    return false;
  }
  if (mode > UINT32_MAX || flags > UINT32_MAX || shared > path->size() || len > r->remaining()) {
    return false;
  }
  const uint8_t* s;
  r->Bytes(len, &s);
  path->resize(shared);
  path->append(reinterpret_cast<const char*>(s), len);
  if (out) {
    out->digest.algo = a;
    out->digest.bytes.assign(b, b + dl);
    out->mode = static_cast<uint32_t>(mode) ^ kModeBase;
    out->flags = static_cast<uint32_t>(flags);
  }
  return true;
}
}  // namespace

Status DecodeChunk(std::string_view v, std::vector<FileEntry>* out,
                   std::vector<uint32_t>* offsets) {
  ChunkHeader h;
  DFS_RETURN_IF_ERROR(ParseChunkHeader(v, &h));
  Reader r(h.body, h.body_len);
  std::string path;
  out->clear();
  out->reserve(h.count);
  if (offsets) offsets->clear();
  for (uint64_t i = 0; i < h.count; ++i) {
    if (offsets)
      offsets->push_back(
          static_cast<uint32_t>(r.pos() - reinterpret_cast<const uint8_t*>(v.data())));
    if (i % kRestartInterval == 0) {
      if (static_cast<size_t>(r.pos() - h.body) != h.Restart(i / kRestartInterval)) {
        return Corrupt("file chunk restart mismatch");
      }
      path.clear();
    }
    FileEntry e;
    if (!DecodeEntry(&r, &path, &e)) return Corrupt("file chunk entry");
    e.path = path;
    out->push_back(std::move(e));
  }
  if (!r.done()) return Corrupt("trailing bytes in file chunk");
  return Status::Ok();
}

// Parses file chunk `v` and sets *r at the restart point that entry i's run starts from (entry
// i - i % kRestartInterval).
Status SeekRestart(std::string_view v, uint32_t i, Reader* r) {
  ChunkHeader h;
  DFS_RETURN_IF_ERROR(ParseChunkHeader(v, &h));
  if (i >= h.count) return Corrupt("file index beyond its chunk");
  uint32_t start = h.Restart(i / kRestartInterval);
  if (start >= h.body_len) return Corrupt("file chunk restart offset");
  *r = Reader(h.body + start, h.body_len - start);
  return Status::Ok();
}

Status DecodeChunkEntry(std::string_view v, uint32_t i, FileEntry* out) {
  Reader r(nullptr, 0);
  DFS_RETURN_IF_ERROR(SeekRestart(v, i, &r));
  std::string path;
  for (uint32_t j = i - i % kRestartInterval; j < i; ++j) {
    if (!DecodeEntry(&r, &path, nullptr)) return Corrupt("file chunk entry");
  }
  if (!DecodeEntry(&r, &path, out)) return Corrupt("file chunk entry");
  out->path = std::move(path);
  return Status::Ok();
}

namespace {
// Digest length for a kernel hash_algo id (0: unknown), without the HashAlgo round trip.
size_t DigestSizeOfKernelId(uint8_t id) {
  switch (id) {
    case 1:
      return 16;
    case 2:
      return 20;
    case 4:
      return 32;
    case 5:
      return 48;
    case 6:
      return 64;
    case 7:
      return 28;
    case 17:
      return 32;
    default:
      return 0;
  }
}

// Where one entry's path suffix lies, and how much it shares with the previous path.
struct PathPart {
  uint64_t shared = 0;
  uint64_t len = 0;
  const uint8_t* suffix = nullptr;
};

// Reads one entry without copying anything: the digest stays in place (*digest points at it,
// algo byte first), the path is described by *part. False if the entry does not fit.
bool ScanEntry(Reader* r, const uint8_t** digest, size_t* digest_len, uint64_t* mode,
               uint64_t* flags, PathPart* part) {
  *digest = r->pos();
  uint8_t id;
  if (!r->U8(&id)) return false;
  size_t dl = DigestSizeOfKernelId(id);
  if (dl == 0 || !r->Skip(dl)) return false;
  *digest_len = 1 + dl;
  if (!r->Varint(mode) || !r->Varint(flags) || !r->Varint(&part->shared) ||
      !r->Varint(&part->len)) {
    return false;
  }
  if (*mode > UINT32_MAX || *flags > UINT32_MAX || part->len > r->remaining()) return false;
  return r->Bytes(part->len, &part->suffix);
}
}  // namespace

// The hot path of a lookup hit: walks from entry i's restart point without building paths or
// copying digests, compares the digest in place, and rebuilds the path (one allocation) only on
// a match.
Status MatchChunkEntry(std::string_view v, uint32_t i, std::string_view digest_key,
                       std::string* path, uint32_t* mode, uint32_t* flags, bool* match) {
  *match = false;
  Reader r(nullptr, 0);
  DFS_RETURN_IF_ERROR(SeekRestart(v, i, &r));
  const uint32_t first = i - i % kRestartInterval;
  PathPart parts[kRestartInterval];
  uint64_t cur = 0, longest = 0;  // length of the previous path; longest path on the way
  const uint8_t* dig = nullptr;
  size_t dig_len = 0;
  uint64_t m = 0, f = 0;
  for (uint32_t j = first; j <= i; ++j) {
    PathPart& p = parts[j - first];
    if (!ScanEntry(&r, &dig, &dig_len, &m, &f, &p) || p.shared > cur)
      return Corrupt("file chunk entry");
    cur = p.shared + p.len;
    longest = std::max(longest, cur);
  }
  *match = dig_len == digest_key.size() && std::memcmp(dig, digest_key.data(), dig_len) == 0;
  if (!*match) return Status::Ok();
  *mode = static_cast<uint32_t>(m) ^ kModeBase;
  *flags = static_cast<uint32_t>(f);
  path->clear();
  path->reserve(longest);
  for (uint32_t j = first; j <= i; ++j) {
    const PathPart& p = parts[j - first];
    path->resize(p.shared);
    path->append(reinterpret_cast<const char*>(p.suffix), p.len);
  }
  return Status::Ok();
}

Status MatchEntryAt(std::string_view v, uint32_t offset, std::string_view digest_key,
                    uint32_t* mode, uint32_t* flags, bool* match) {
  *match = false;
  if (offset >= v.size()) return Corrupt("file entry offset beyond its chunk");
  Reader r(v.data() + offset, v.size() - offset);
  const uint8_t* dig;
  size_t dig_len;
  uint64_t m, f;
  PathPart part;
  if (!ScanEntry(&r, &dig, &dig_len, &m, &f, &part)) return Corrupt("file chunk entry");
  *match = dig_len == digest_key.size() && std::memcmp(dig, digest_key.data(), dig_len) == 0;
  if (*match) {
    *mode = static_cast<uint32_t>(m) ^ kModeBase;
    *flags = static_cast<uint32_t>(f);
  }
  return Status::Ok();
}

Status ChunkEntryPath(std::string_view v, uint32_t i, uint32_t offset, std::string* path) {
  Reader r(nullptr, 0);
  DFS_RETURN_IF_ERROR(SeekRestart(v, i, &r));
  path->clear();
  for (uint32_t j = i - i % kRestartInterval; j <= i; ++j) {
    if (j == i && r.pos() != reinterpret_cast<const uint8_t*>(v.data()) + offset) {
      return Corrupt("file entry offset does not match its index");
    }
    if (!DecodeEntry(&r, path, nullptr)) return Corrupt("file chunk entry");
  }
  return Status::Ok();
}

std::string EncodeDeny(int64_t added, std::string_view reason) {
  std::string out;
  PutVarint(&out, static_cast<uint64_t>(added));
  out.append(reason);
  return out;
}

Status DecodeDeny(std::string_view v, int64_t* added, std::string* reason) {
  Reader r(v);
  uint64_t t;
  if (!r.Varint(&t)) return Corrupt("deny record");
  *added = static_cast<int64_t>(t);
  reason->assign(reinterpret_cast<const char*>(r.pos()), r.remaining());
  return Status::Ok();
}

// --- rpm-style version ordering -------------------------------------------------------------

namespace {
// Compares one version or release string segment by segment (rpm's rules: alphanumeric
// segments, numbers newer than letters, '~' older than anything, '^' newer than the end).
int CompareSegments(std::string_view a, std::string_view b) {
  size_t i = 0, j = 0;
  auto sep = [](char c) {
    return !std::isalnum(static_cast<unsigned char>(c)) && c != '~' && c != '^';
  };
  while (i < a.size() || j < b.size()) {
    while (i < a.size() && sep(a[i])) ++i;
    while (j < b.size() && sep(b[j])) ++j;
    bool at = i < a.size() && a[i] == '~', bt = j < b.size() && b[j] == '~';
    if (at || bt) {
      if (at && bt) {
        ++i;
        ++j;
        continue;
      }
      return at ? -1 : 1;
    }
    bool ac = i < a.size() && a[i] == '^', bc = j < b.size() && b[j] == '^';
    if (ac || bc) {
      if (ac && bc) {
        ++i;
        ++j;
        continue;
      }
      if (ac) return j >= b.size() ? 1 : -1;
      return i >= a.size() ? -1 : 1;
    }
    if (i >= a.size() || j >= b.size()) break;
    bool num = std::isdigit(static_cast<unsigned char>(a[i]));
    auto seg_end = [num](std::string_view s, size_t k) {
      while (k < s.size() && (num ? std::isdigit(static_cast<unsigned char>(s[k]))
                                  : std::isalpha(static_cast<unsigned char>(s[k])))) {
        ++k;
      }
      return k;
    };
    size_t ie = seg_end(a, i), je = seg_end(b, j);
    if (je == j) return num ? 1 : -1;  // segment types differ: numeric is newer
    std::string_view sa = a.substr(i, ie - i), sb = b.substr(j, je - j);
    if (num) {
      while (sa.size() > 1 && sa[0] == '0') sa.remove_prefix(1);
      while (sb.size() > 1 && sb[0] == '0') sb.remove_prefix(1);
      if (sa.size() != sb.size()) return sa.size() < sb.size() ? -1 : 1;
    }
    int c = sa.compare(sb);
    if (c != 0) return c < 0 ? -1 : 1;
    i = ie;
    j = je;
  }
  bool ae = i >= a.size(), be = j >= b.size();
  if (ae && be) return 0;
  return ae ? -1 : 1;
}

void SplitEvr(std::string_view s, uint64_t* epoch, std::string_view* v, std::string_view* r) {
  *epoch = 0;
  size_t colon = s.find(':');
  if (colon != std::string_view::npos) {
    uint64_t e = 0;
    for (char c : s.substr(0, colon)) {
      if (!std::isdigit(static_cast<unsigned char>(c))) break;
      e = e * 10 + static_cast<uint64_t>(c - '0');
    }
    *epoch = e;
    s.remove_prefix(colon + 1);
  }
  size_t dash = s.rfind('-');
  if (dash == std::string_view::npos) {
    *v = s;
    *r = {};
  } else {
    *v = s.substr(0, dash);
    *r = s.substr(dash + 1);
  }
}
}  // namespace

int CompareVersions(std::string_view a, std::string_view b) {
  uint64_t ea, eb;
  std::string_view va, ra, vb, rb;
  SplitEvr(a, &ea, &va, &ra);
  SplitEvr(b, &eb, &vb, &rb);
  if (ea != eb) return ea < eb ? -1 : 1;
  int c = CompareSegments(va, vb);
  if (c != 0) return c;
  return CompareSegments(ra, rb);
}

namespace {

// dpkg's order of one character: digits 0 (never compared here), letters by value, '~' below the
// end of the string, anything else after letters.
int DebOrder(char c) {
  if (std::isdigit(static_cast<unsigned char>(c))) return 0;
  if (std::isalpha(static_cast<unsigned char>(c))) return c;
  if (c == '~') return -1;
  if (c != 0) return c + 256;
  return 0;
}

int DebVerRevCmp(std::string_view a, std::string_view b) {
  size_t i = 0, j = 0;
  auto at = [](std::string_view s, size_t k) { return k < s.size() ? s[k] : '\0'; };
  auto digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
  while (i < a.size() || j < b.size()) {
    while ((i < a.size() && !digit(a[i])) || (j < b.size() && !digit(b[j]))) {
      int ac = DebOrder(at(a, i)), bc = DebOrder(at(b, j));
      if (ac != bc) return ac < bc ? -1 : 1;
      ++i;
      ++j;
    }
    while (at(a, i) == '0') ++i;
    while (at(b, j) == '0') ++j;
    int first_diff = 0;
    while (digit(at(a, i)) && digit(at(b, j))) {
      if (first_diff == 0) first_diff = at(a, i) - at(b, j);
      ++i;
      ++j;
    }
    if (digit(at(a, i))) return 1;
    if (digit(at(b, j))) return -1;
    if (first_diff != 0) return first_diff < 0 ? -1 : 1;
  }
  return 0;
}

void SplitDebVersion(std::string_view s, uint64_t* epoch, std::string_view* upstream,
                     std::string_view* revision) {
  *epoch = 0;
  size_t colon = s.find(':');
  if (colon != std::string_view::npos) {
    uint64_t e = 0;
    for (char c : s.substr(0, colon)) {
      if (!std::isdigit(static_cast<unsigned char>(c))) break;
      e = e * 10 + static_cast<uint64_t>(c - '0');
    }
    *epoch = e;
    s.remove_prefix(colon + 1);
  }
  size_t dash = s.rfind('-');
  if (dash == std::string_view::npos) {
    *upstream = s;
    *revision = {};
  } else {
    *upstream = s.substr(0, dash);
    *revision = s.substr(dash + 1);
  }
}

}  // namespace

int CompareDebVersions(std::string_view a, std::string_view b) {
  uint64_t ea, eb;
  std::string_view ua, ra, ub, rb;
  SplitDebVersion(a, &ea, &ua, &ra);
  SplitDebVersion(b, &eb, &ub, &rb);
  if (ea != eb) return ea < eb ? -1 : 1;
  int c = DebVerRevCmp(ua, ub);
  if (c != 0) return c;
  return DebVerRevCmp(ra, rb);
}

int CompareVersionsOf(SourceKind kind, std::string_view a, std::string_view b) {
  return kind == SourceKind::kDeb ? CompareDebVersions(a, b) : CompareVersions(a, b);
}

}  // namespace dfs::store_format
