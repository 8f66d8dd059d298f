// The store's byte encodings (cache/store_format.h): each record type round-trips, and every
// truncated or altered encoding decodes to the same value or to kCorrupt, never past its buffer.
#include "cache/store_format.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "store_test_util.h"

namespace dfs::store_format {
namespace {

using dfs::testing::Sha;

TEST(StoreFormat, Varints) {
  for (uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{127}, uint64_t{128}, uint64_t{300}, uint64_t{1} << 35,
                     ~uint64_t{0}}) {
    std::string s;
    PutVarint(&s, v);
    Reader r(s);
    uint64_t got;
    ASSERT_TRUE(r.Varint(&got));
    EXPECT_EQ(got, v);
    EXPECT_TRUE(r.done());
    for (size_t cut = 0; cut < s.size(); ++cut) {
      Reader t(s.data(), cut);
      EXPECT_FALSE(t.Varint(&got)) << "cut " << cut;
    }
  }
  std::string overlong(11, '\x80');
  Reader r(overlong);
  uint64_t got;
  EXPECT_FALSE(r.Varint(&got));
}

TEST(StoreFormat, DigestKeys) {
  Digest d = Sha("x");
  auto k = DigestKey(d);
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->size(), 33u);
  EXPECT_EQ(static_cast<uint8_t>((*k)[0]), 4);  // the kernel's id for sha256
  EXPECT_EQ(*DecodeDigestKey(*k), d);
  EXPECT_EQ(DigestIndexKey(*k), k->substr(0, 1 + kIndexPrefix));
  EXPECT_EQ(DigestKey(Digest{}).status().code(), Code::kInvalidArgument);
  Digest short_d = d;
  short_d.bytes.resize(31);
  EXPECT_EQ(DigestKey(short_d).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(DecodeDigestKey("").status().code(), Code::kCorrupt);
  EXPECT_EQ(DecodeDigestKey(k->substr(0, 20)).status().code(), Code::kCorrupt);
  std::string bad = *k;
  bad[0] = 3;  // no such kernel id
  EXPECT_EQ(DecodeDigestKey(bad).status().code(), Code::kCorrupt);
}

TEST(StoreFormat, SourceAndChunkKeysSortNumerically) {
  EXPECT_LT(SourceKey(255), SourceKey(256));
  EXPECT_LT(ChunkKey(1, 0xffffffff), ChunkKey(2, 0));
  EXPECT_LT(ChunkKey(7, 1), ChunkKey(7, 2));
  EXPECT_EQ(SourceKey(1).size(), 8u);
  EXPECT_EQ(ChunkKey(1, 1).size(), 12u);
}

TEST(StoreFormat, IndexKeys) {
  EXPECT_EQ(IndexKey("hello"), "hello");
  std::string a(1000, 'a'), b = a;
  b.back() = 'b';
  EXPECT_LE(IndexKey(a).size(), kMaxIndexKey);
  EXPECT_NE(IndexKey(a), IndexKey(b));
  EXPECT_FALSE(IndexKey("").empty());
  EXPECT_NE(GroupKey(SourceKind::kRpm, "a", "bc"), GroupKey(SourceKind::kRpm, "ab", "c"));
}

TEST(StoreFormat, Refs) {
  std::vector<FileRef> refs = {{1, 0, 3}, {300, 70000, 12000}, {1ull << 40, 5, 200}};
  std::string v;
  EncodeRefs(refs, &v);
  std::vector<FileRef> got;
  ASSERT_TRUE(DecodeRefs(v, &got).ok());
  EXPECT_EQ(got, refs);
  EXPECT_EQ(DecodeRefs("", &got).code(), Code::kCorrupt);
  for (size_t cut = 1; cut < v.size(); ++cut) {
    Status s = DecodeRefs(v.substr(0, cut), &got);
    // A cut at a record boundary is a valid shorter list; anywhere else is corrupt.
    if (!s.ok()) {
      EXPECT_EQ(s.code(), Code::kCorrupt);
    }
  }
  std::string zero_id;
  PutVarint(&zero_id, 0);
  PutVarint(&zero_id, 1);
  PutVarint(&zero_id, 1);
  EXPECT_EQ(DecodeRefs(zero_id, &got).code(), Code::kCorrupt);
}

// Schema 1 refs (no offset) still decode, as schema 1.
TEST(StoreFormat, SchemaOneRefs) {
  std::string v;
  PutVarint(&v, 7);
  PutVarint(&v, 300);
  PutVarint(&v, 9);
  PutVarint(&v, 1);
  std::vector<FileRef> got;
  ASSERT_TRUE(DecodeRefs(v, &got, 1).ok());
  EXPECT_EQ(got, (std::vector<FileRef>{{7, 300, 0}, {9, 1, 0}}));
  // Read as schema 2 the same bytes are one ref and a cut one: corrupt, never a wrong list.
  EXPECT_EQ(DecodeRefs(v, &got, 2).code(), Code::kCorrupt);
}

SourceInfo FullSource() {
  SourceInfo s;
  s.kind = SourceKind::kTlv;
  s.name = "tlv-list";
  s.package = "pkg";
  s.arch = "noarch";
  s.version = "1:2.3-4";
  s.signer = "abcdef";
  s.blob_digest = HashBytes(HashAlgo::kSha512, "blob").value();
  s.import_time = 1700000000;
  s.state = SourceState::kSuperseded;
  s.flags = kSourceUnsigned | kSourceWeakAlgo;
  s.origin = "/some/file";
  return s;
}

TEST(StoreFormat, SourceRecord) {
  SourceInfo s = FullSource();
  std::string v = EncodeSource(s, 12345);
  SourceInfo got;
  uint64_t n = 0;
  ASSERT_TRUE(DecodeSource(v, &got, &n).ok());
  EXPECT_EQ(n, 12345u);
  EXPECT_EQ(got.kind, s.kind);
  EXPECT_EQ(got.name, s.name);
  EXPECT_EQ(got.package, s.package);
  EXPECT_EQ(got.arch, s.arch);
  EXPECT_EQ(got.version, s.version);
  EXPECT_EQ(got.signer, s.signer);
  EXPECT_EQ(got.blob_digest, s.blob_digest);
  EXPECT_EQ(got.import_time, s.import_time);
  EXPECT_EQ(got.state, s.state);
  EXPECT_EQ(got.flags, s.flags);
  EXPECT_EQ(got.origin, s.origin);
  // No blob digest (local sources).
  SourceInfo local;
  local.kind = SourceKind::kLocal;
  local.name = "/etc/motd";
  ASSERT_TRUE(DecodeSource(EncodeSource(local, 1), &got, &n).ok());
  EXPECT_TRUE(got.blob_digest.empty());
  // Every truncation is corrupt; so are bad kind/state/version bytes and trailing bytes.
  for (size_t cut = 0; cut < v.size(); ++cut) {
    EXPECT_EQ(DecodeSource(v.substr(0, cut), &got, &n).code(), Code::kCorrupt) << cut;
  }
  for (size_t pos : {size_t{0}, size_t{1}, size_t{2}}) {
    std::string b = v;
    b[pos] = 9;
    EXPECT_EQ(DecodeSource(b, &got, &n).code(), Code::kCorrupt) << pos;
  }
  EXPECT_EQ(DecodeSource(v + "x", &got, &n).code(), Code::kCorrupt);
}

std::vector<FileEntry> SomeFiles(size_t n) {
  std::vector<FileEntry> files;
  for (size_t i = 0; i < n; ++i) {
    FileEntry f;
    f.digest = i % 5 == 0 ? HashBytes(HashAlgo::kSha384, std::to_string(i)).value() : Sha(std::to_string(i));
    f.path = "/usr/lib/x/" + std::string(i % 3, 'd') + "/file" + std::to_string(1000 + i);
    f.mode = i % 2 ? 0100755 : 0100644;
    if (i % 7 == 0) f.mode = 0104711;
    f.flags = static_cast<uint32_t>(i % 8);
    files.push_back(f);
  }
  std::sort(files.begin(), files.end(), [](auto& a, auto& b) { return a.path < b.path; });
  return files;
}

TEST(StoreFormat, ChunkRoundTripAndRandomAccess) {
  for (size_t n : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{17}, size_t{kChunkEntries}}) {
    SCOPED_TRACE(n);
    auto files = SomeFiles(n);
    std::string v = EncodeChunk(files.data(), files.size());
    std::vector<FileEntry> got;
    ASSERT_TRUE(DecodeChunk(v, &got).ok());
    ASSERT_EQ(got.size(), n);
    for (size_t i = 0; i < n; ++i) {
      EXPECT_EQ(got[i].path, files[i].path);
      EXPECT_EQ(got[i].digest, files[i].digest);
      EXPECT_EQ(got[i].mode, files[i].mode);
      EXPECT_EQ(got[i].flags, files[i].flags);
      FileEntry one;
      ASSERT_TRUE(DecodeChunkEntry(v, static_cast<uint32_t>(i), &one).ok());
      EXPECT_EQ(one.path, files[i].path);
      EXPECT_EQ(one.digest, files[i].digest);
      EXPECT_EQ(one.mode, files[i].mode);
    }
    FileEntry one;
    EXPECT_EQ(DecodeChunkEntry(v, static_cast<uint32_t>(n), &one).code(), Code::kCorrupt);
    for (size_t i = 0; i < n; ++i) {
      std::string path;
      uint32_t mode = 0, flags = 0;
      bool match = false;
      std::string key = *DigestKey(files[i].digest);
      ASSERT_TRUE(MatchChunkEntry(v, static_cast<uint32_t>(i), key, &path, &mode, &flags, &match).ok());
      EXPECT_TRUE(match);
      EXPECT_EQ(path, files[i].path);
      EXPECT_EQ(mode, files[i].mode);
      EXPECT_EQ(flags, files[i].flags);
      std::string other = *DigestKey(files[(i + 1) % n].digest);
      if (n > 1) {
        ASSERT_TRUE(MatchChunkEntry(v, static_cast<uint32_t>(i), other, &path, &mode, &flags, &match).ok());
        EXPECT_FALSE(match);
      }
    }
  }
}

// Schema 2: refs carry each entry's offset; the entry is matched at it, the path rebuilt from it.
TEST(StoreFormat, ChunkEntryOffsets) {
  for (size_t n : {size_t{1}, size_t{9}, size_t{kChunkEntries}}) {
    SCOPED_TRACE(n);
    auto files = SomeFiles(n);
    std::vector<uint32_t> offsets, decoded;
    std::string v = EncodeChunk(files.data(), files.size(), &offsets);
    ASSERT_EQ(v, EncodeChunk(files.data(), files.size()));  // offsets do not change the bytes
    std::vector<FileEntry> got;
    ASSERT_TRUE(DecodeChunk(v, &got, &decoded).ok());
    EXPECT_EQ(decoded, offsets);
    ASSERT_EQ(offsets.size(), n);
    for (size_t i = 0; i < n; ++i) {
      std::string key = *DigestKey(files[i].digest);
      uint32_t mode = 0, flags = 0;
      bool match = false;
      ASSERT_TRUE(MatchEntryAt(v, offsets[i], key, &mode, &flags, &match).ok());
      EXPECT_TRUE(match);
      EXPECT_EQ(mode, files[i].mode);
      EXPECT_EQ(flags, files[i].flags);
      std::string path;
      ASSERT_TRUE(ChunkEntryPath(v, static_cast<uint32_t>(i), offsets[i], &path).ok());
      EXPECT_EQ(path, files[i].path);
      if (n > 1) {
        std::string other = *DigestKey(files[(i + 1) % n].digest);
        ASSERT_TRUE(MatchEntryAt(v, offsets[i], other, &mode, &flags, &match).ok());
        EXPECT_FALSE(match);
        // A ref whose offset and index disagree is damage.
        EXPECT_EQ(ChunkEntryPath(v, static_cast<uint32_t>(i), offsets[(i + 1) % n], &path).code(),
                  Code::kCorrupt);
      }
    }
    uint32_t mode, flags;
    bool match;
    EXPECT_EQ(MatchEntryAt(v, static_cast<uint32_t>(v.size()), "x", &mode, &flags, &match).code(),
              Code::kCorrupt);
  }
}

TEST(StoreFormat, DamagedChunksAreCorruptNeverOutOfBounds) {
  auto files = SomeFiles(40);
  const std::string v = EncodeChunk(files.data(), files.size());
  std::vector<FileEntry> got;
  FileEntry one;
  for (size_t cut = 0; cut < v.size(); ++cut) {
    // Copy into an exactly-sized heap buffer so ASan catches any read past the end.
    std::unique_ptr<char[]> buf(new char[cut + 1]);
    std::memcpy(buf.get(), v.data(), cut);
    std::string_view sv(buf.get(), cut);
    EXPECT_EQ(DecodeChunk(sv, &got).code(), Code::kCorrupt) << cut;
    Status s = DecodeChunkEntry(sv, 39, &one);
    EXPECT_EQ(s.code(), Code::kCorrupt) << cut;
    // The hit paths read only what fits (ASan checks), whatever the offset.
    std::string path;
    uint32_t mode, flags;
    bool match;
    const std::string key = *DigestKey(files[39].digest);
    s = MatchChunkEntry(sv, 39, key, &path, &mode, &flags, &match);
    EXPECT_EQ(s.code(), Code::kCorrupt) << cut;
    for (uint32_t off = 0; off < cut; off += 7) {
      s = MatchEntryAt(sv, off, key, &mode, &flags, &match);
      if (!s.ok()) {
        EXPECT_EQ(s.code(), Code::kCorrupt);
      }
      s = ChunkEntryPath(sv, 39, off, &path);
      if (!s.ok()) {
        EXPECT_EQ(s.code(), Code::kCorrupt);
      }
    }
  }
  std::mt19937 rng(3);
  for (int i = 0; i < 3000; ++i) {
    std::string b = v;
    b[rng() % b.size()] ^= static_cast<char>(1 + rng() % 255);
    Status s = DecodeChunk(b, &got);
    if (!s.ok()) {
      EXPECT_EQ(s.code(), Code::kCorrupt);
    }
    s = DecodeChunkEntry(b, static_cast<uint32_t>(rng() % 40), &one);
    if (!s.ok()) {
      EXPECT_EQ(s.code(), Code::kCorrupt);
    }
  }
}

TEST(StoreFormat, DenyRecord) {
  std::string v = EncodeDeny(1700000000, "CVE-2024-1 \xff binary");
  int64_t t;
  std::string reason;
  ASSERT_TRUE(DecodeDeny(v, &t, &reason).ok());
  EXPECT_EQ(t, 1700000000);
  EXPECT_EQ(reason, "CVE-2024-1 \xff binary");
  EXPECT_EQ(DecodeDeny("", &t, &reason).code(), Code::kCorrupt);
}

TEST(StoreFormat, RpmVersionOrdering) {
  EXPECT_EQ(CompareVersions("1.0-1", "1.0-1"), 0);
  EXPECT_LT(CompareVersions("1.0-1", "1.0-2"), 0);
  EXPECT_LT(CompareVersions("1.0-1", "1.1-1"), 0);
  EXPECT_LT(CompareVersions("1.9-1", "1.10-1"), 0);
  EXPECT_GT(CompareVersions("1:1.0-1", "2.0-1"), 0);
  EXPECT_LT(CompareVersions("1.0~rc1-1", "1.0-1"), 0);
  EXPECT_GT(CompareVersions("1.0^git1-1", "1.0-1"), 0);
  EXPECT_LT(CompareVersions("1.0a-1", "1.0.1-1"), 0);
  EXPECT_EQ(CompareVersions("1.01-1", "1.1-1"), 0);
  EXPECT_GT(CompareVersions("2.0-1.fc39", "2.0-1"), 0);
  EXPECT_LT(CompareVersions("a", "1"), 0);
}

}  // namespace
}  // namespace dfs::store_format
