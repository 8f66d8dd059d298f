// Store: the contract of cache/store.h on a real LMDB environment in a temporary directory.
#include <gtest/gtest.h>

#include "cache/store.h"
#include "store_test_util.h"

namespace dfs {
namespace {

using testing::File;
using testing::OpenOrDie;
using testing::Rpm;
using testing::Sha;
using testing::TempDir;

TEST(StoreBasic, OpenMissingWithoutCreateIsNotFound) {
  TempDir t;
  auto s = Store::Open(t.Sub("nope"), StoreOptions{});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kNotFound);
}

TEST(StoreBasic, CreateThenReopen) {
  TempDir t;
  uint64_t gen;
  {
    auto st = OpenOrDie(t.Sub("s"));
    ASSERT_TRUE(st);
    gen = st->Generation();
    EXPECT_GT(gen, 0u);
  }
  auto st = OpenOrDie(t.Sub("s"), false);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->Generation(), gen);
  auto stats = st->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->digests, 0u);
  EXPECT_GT(stats->bytes_on_disk, 0u);
}

TEST(StoreBasic, ImportAndLookup) {
  TempDir t;
  auto st = OpenOrDie(t.Sub("s"));
  ASSERT_TRUE(st);
  uint64_t g0 = st->Generation();
  auto sum = st->Import(Rpm("hello", "2.0-1", {File("/usr/bin/hello", "hello binary"),
                                                File("/etc/hello.conf", "conf", kFileConfig | kFileMutable)}),
                        {});
  ASSERT_TRUE(sum.ok()) << sum.status().ToString();
  EXPECT_EQ(sum->files, 2u);
  EXPECT_EQ(sum->new_digests, 2u);
  EXPECT_FALSE(sum->unchanged);
  EXPECT_GT(st->Generation(), g0);

  auto r = st->Lookup(Sha("hello binary"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->known());
  EXPECT_FALSE(r->denied);
  ASSERT_EQ(r->provenance.size(), 1u);
  EXPECT_EQ(r->provenance[0].source_id, sum->source_id);
  EXPECT_EQ(r->provenance[0].path, "/usr/bin/hello");
  EXPECT_EQ(r->provenance[0].mode, 0100644u);

  auto c = st->Lookup(Sha("conf"));
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->provenance.size(), 1u);
  EXPECT_EQ(c->provenance[0].flags, kFileConfig | kFileMutable);

  auto miss = st->Lookup(Sha("unknown"));
  ASSERT_TRUE(miss.ok());
  EXPECT_FALSE(miss->known());

  auto src = st->GetSource(sum->source_id);
  ASSERT_TRUE(src.ok());
  EXPECT_EQ(src->name, "hello-2.0-1.x86_64");
  EXPECT_EQ(src->state, SourceState::kActive);
  EXPECT_EQ(src->signer, "0123456789abcdef");
  EXPECT_EQ(src->blob_digest, Sha("header of hello-2.0-1.x86_64"));

  auto files = st->SourceFiles(sum->source_id);
  ASSERT_TRUE(files.ok());
  ASSERT_EQ(files->size(), 2u);
  EXPECT_EQ((*files)[0].path, "/etc/hello.conf");  // ordered by path
  EXPECT_EQ((*files)[1].path, "/usr/bin/hello");

  auto by_name = st->FindSource("hello-2.0-1.x86_64");
  ASSERT_TRUE(by_name.ok());
  EXPECT_EQ(by_name->id, sum->source_id);
  auto by_id = st->FindSource(std::to_string(sum->source_id));
  ASSERT_TRUE(by_id.ok());
  EXPECT_EQ(by_id->name, "hello-2.0-1.x86_64");
  EXPECT_EQ(st->FindSource("nope").status().code(), Code::kNotFound);
}

TEST(StoreBasic, SameBlobIsUnchanged) {
  TempDir t;
  auto st = OpenOrDie(t.Sub("s"));
  auto a = st->Import(Rpm("hello", "2.0-1", {File("/usr/bin/hello", "x")}), {});
  ASSERT_TRUE(a.ok());
  uint64_t g = st->Generation();
  auto b = st->Import(Rpm("hello", "2.0-1", {File("/usr/bin/hello", "x")}), {});
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->unchanged);
  EXPECT_EQ(b->source_id, a->source_id);
  EXPECT_EQ(st->Generation(), g);  // nothing committed
}

TEST(StoreBasic, NewerVersionSupersedesOlder) {
  TempDir t;
  auto st = OpenOrDie(t.Sub("s"));
  auto v1 = st->Import(Rpm("hello", "1.0-1", {File("/usr/bin/hello", "v1"), File("/usr/share/hello", "same")}), {});
  ASSERT_TRUE(v1.ok());
  auto v2 = st->Import(Rpm("hello", "2.0-1", {File("/usr/bin/hello", "v2"), File("/usr/share/hello", "same")}), {});
  ASSERT_TRUE(v2.ok());
  ASSERT_EQ(v2->superseded.size(), 1u);
  EXPECT_EQ(v2->superseded[0], v1->source_id);
  EXPECT_FALSE(st->Lookup(Sha("v1"))->known());
  EXPECT_TRUE(st->Lookup(Sha("v2"))->known());
  auto same = st->Lookup(Sha("same"));
  ASSERT_EQ(same->provenance.size(), 1u);
  EXPECT_EQ(same->provenance[0].source_id, v2->source_id);
  EXPECT_EQ(st->GetSource(v1->source_id)->state, SourceState::kSuperseded);

  // Importing the old version again is not a rollback: stored superseded.
  auto again = st->Import(Rpm("hello", "1.0-1", {File("/usr/bin/hello", "v1b")}), {});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->older);
  EXPECT_FALSE(st->Lookup(Sha("v1b"))->known());
  EXPECT_TRUE(st->Lookup(Sha("v2"))->known());
}

TEST(StoreBasic, KeepOldKeepsBoth) {
  TempDir t;
  auto st = OpenOrDie(t.Sub("s"));
  ASSERT_TRUE(st->Import(Rpm("hello", "1.0-1", {File("/usr/bin/hello", "v1")}), {}).ok());
  ImportOptions keep;
  keep.keep_old = true;
  auto v2 = st->Import(Rpm("hello", "2.0-1", {File("/usr/bin/hello", "v2")}), keep);
  ASSERT_TRUE(v2.ok());
  EXPECT_TRUE(v2->superseded.empty());
  EXPECT_TRUE(st->Lookup(Sha("v1"))->known());
  EXPECT_TRUE(st->Lookup(Sha("v2"))->known());
}

TEST(StoreBasic, OtherArchIsNotSuperseded) {
  TempDir t;
  auto st = OpenOrDie(t.Sub("s"));
  ASSERT_TRUE(st->Import(Rpm("hello", "1.0-1", {File("/usr/bin/hello", "x86")}), {}).ok());
  auto b = st->Import(Rpm("hello", "2.0-1", {File("/usr/bin/hello", "arm")}, "aarch64"), {});
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->superseded.empty());
  EXPECT_TRUE(st->Lookup(Sha("x86"))->known());
}

TEST(StoreBasic, DigestSharedByTwoSources) {
  TempDir t;
  auto st = OpenOrDie(t.Sub("s"));
  auto a = st->Import(Rpm("a", "1-1", {File("/usr/share/licenses/a/COPYING", "GPL")}), {});
  auto b = st->Import(Rpm("b", "1-1", {File("/usr/share/licenses/b/COPYING", "GPL")}), {});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(b->new_digests, 0u);
  auto r = st->Lookup(Sha("GPL"));
  ASSERT_EQ(r->provenance.size(), 2u);
  ASSERT_TRUE(st->RemoveSource(a->source_id).ok());
  r = st->Lookup(Sha("GPL"));
  ASSERT_EQ(r->provenance.size(), 1u);
  EXPECT_EQ(r->provenance[0].path, "/usr/share/licenses/b/COPYING");
  EXPECT_EQ(st->GetSource(a->source_id)->state, SourceState::kRemoved);
  EXPECT_EQ(st->RemoveSource(999).code(), Code::kNotFound);
}

TEST(StoreBasic, DenyWins) {
  TempDir t;
  auto st = OpenOrDie(t.Sub("s"));
  ASSERT_TRUE(st->Import(Rpm("a", "1-1", {File("/bin/a", "bad")}), {}).ok());
  // Lookups remember "deny list empty" per transaction: a later add must still be seen.
  EXPECT_FALSE(st->Lookup(Sha("bad"))->denied);
  ASSERT_TRUE(st->DenyAdd(Sha("bad"), "CVE-0000").ok());
  auto r = st->Lookup(Sha("bad"));
  EXPECT_TRUE(r->denied);
  auto l = st->DenyList();
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l->size(), 1u);
  EXPECT_EQ((*l)[0].first, Sha("bad"));
  EXPECT_EQ((*l)[0].second, "CVE-0000");
  ASSERT_TRUE(st->DenyRemove(Sha("bad")).ok());
  EXPECT_FALSE(st->Lookup(Sha("bad"))->denied);
  EXPECT_EQ(st->DenyRemove(Sha("bad")).code(), Code::kNotFound);
}

TEST(StoreBasic, TrustLocalReplaces) {
  TempDir t;
  auto st = OpenOrDie(t.Sub("s"));
  ASSERT_TRUE(st->TrustLocal("/etc/motd", Sha("motd 1"), 0100644).ok());
  auto r = st->Lookup(Sha("motd 1"));
  ASSERT_EQ(r->provenance.size(), 1u);
  EXPECT_EQ(r->provenance[0].path, "/etc/motd");
  EXPECT_TRUE(r->provenance[0].flags & kFileMutable);
  auto src = st->GetSource(r->provenance[0].source_id);
  EXPECT_EQ(src->kind, SourceKind::kLocal);
  ASSERT_TRUE(st->TrustLocal("/etc/motd", Sha("motd 2"), 0100644).ok());
  EXPECT_FALSE(st->Lookup(Sha("motd 1"))->known());
  EXPECT_TRUE(st->Lookup(Sha("motd 2"))->known());
  auto list = st->ListSources();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 1u);
}

TEST(StoreBasic, ImportAllRemovesOthers) {
  TempDir t;
  auto st = OpenOrDie(t.Sub("s"));
  ASSERT_TRUE(st->Import(Rpm("a", "1-1", {File("/bin/a", "a")}), {}).ok());
  ASSERT_TRUE(st->Import(Rpm("b", "1-1", {File("/bin/b", "b")}), {}).ok());
  auto r = st->ImportAll({Rpm("a", "1-1", {File("/bin/a", "a")}), Rpm("c", "1-1", {File("/bin/c", "c")})}, {},
                         true, SourceKind::kRpm);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_TRUE((*r)[0].unchanged);
  EXPECT_TRUE(st->Lookup(Sha("a"))->known());
  EXPECT_FALSE(st->Lookup(Sha("b"))->known());
  EXPECT_TRUE(st->Lookup(Sha("c"))->known());
  auto stats = st->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->digests, 2u);
  ASSERT_EQ(stats->sources_per_kind.size(), 1u);
  EXPECT_EQ(stats->sources_per_kind[0].first, "rpm");
  EXPECT_EQ(stats->sources_per_kind[0].second, 2u);
}

TEST(StoreBasic, BadInputIsRejectedAndLosesNothing) {
  TempDir t;
  auto st = OpenOrDie(t.Sub("s"));
  uint64_t g = st->Generation();
  auto bad_path = st->Import(Rpm("a", "1-1", {File("relative/path", "x")}), {});
  EXPECT_EQ(bad_path.status().code(), Code::kInvalidArgument);
  auto dup = st->Import(Rpm("a", "1-1", {File("/a", "x"), File("/a", "y")}), {});
  EXPECT_EQ(dup.status().code(), Code::kInvalidArgument);
  ImportItem bad_digest = Rpm("a", "1-1", {File("/a", "x")});
  bad_digest.files[0].digest.bytes.pop_back();
  EXPECT_EQ(st->Import(bad_digest, {}).status().code(), Code::kInvalidArgument);
  ImportItem noname = Rpm("a", "1-1", {});
  noname.source.name.clear();
  EXPECT_EQ(st->Import(noname, {}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(st->Lookup(Digest{}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(st->Generation(), g);
  EXPECT_TRUE(st->ListSources()->empty());
}

TEST(StoreBasic, ReadOnlyRefusesWrites) {
  TempDir t;
  { ASSERT_TRUE(OpenOrDie(t.Sub("s"))); }
  auto ro = OpenOrDie(t.Sub("s"), false, true);
  ASSERT_TRUE(ro);
  EXPECT_EQ(ro->DenyAdd(Sha("x"), "").code(), Code::kPermissionDenied);
  EXPECT_TRUE(ro->Lookup(Sha("x")).ok());
}

TEST(StoreBasic, OpenTwiceSharesOneEnvironment) {
  TempDir t;
  auto a = OpenOrDie(t.Sub("s"));
  auto b = OpenOrDie(t.Sub("s"));
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->Import(Rpm("a", "1-1", {File("/bin/a", "a")}), {}).ok());
  EXPECT_EQ(a->Generation(), b->Generation());
  EXPECT_TRUE(b->Lookup(Sha("a"))->known());
  a.reset();
  EXPECT_TRUE(b->Lookup(Sha("a"))->known());
}

TEST(StoreBasic, LargeSourceSpansChunks) {
  TempDir t;
  auto st = OpenOrDie(t.Sub("s"));
  std::vector<FileEntry> files;
  for (int i = 0; i < 1000; ++i) files.push_back(File("/usr/lib/python3/site-packages/m" + std::to_string(i) + ".py", "f" + std::to_string(i)));
  auto sum = st->Import(Rpm("big", "1-1", files), {});
  ASSERT_TRUE(sum.ok());
  for (int i = 0; i < 1000; i += 37) {
    auto r = st->Lookup(Sha("f" + std::to_string(i)));
    ASSERT_EQ(r->provenance.size(), 1u);
    EXPECT_EQ(r->provenance[0].path, "/usr/lib/python3/site-packages/m" + std::to_string(i) + ".py");
  }
  auto all = st->SourceFiles(sum->source_id);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 1000u);
}

// The daemon's lookup (no paths): source, mode and flags as with paths; FilePath gives the path.
TEST(StoreBasic, LookupWithoutPathsAndFilePath) {
  TempDir t;
  auto st = OpenOrDie(t.Sub("s"));
  std::vector<FileEntry> files;
  for (int i = 0; i < 600; ++i) {
    files.push_back(FileEntry{Sha("g" + std::to_string(i)), "/usr/share/g/f" + std::to_string(i),
                              static_cast<uint32_t>(0100600 + i % 3),
                              static_cast<uint32_t>(i % 2 ? kFileConfig | kFileMutable : 0)});
  }
  auto sum = st->Import(Rpm("g", "1-1", files), {});
  ASSERT_TRUE(sum.ok());
  for (int i = 0; i < 600; i += 13) {
    SCOPED_TRACE(i);
    auto with = st->Lookup(Sha("g" + std::to_string(i)));
    auto without = st->Lookup(Sha("g" + std::to_string(i)), LookupOptions{.paths = false});
    ASSERT_TRUE(with.ok() && without.ok());
    ASSERT_EQ(with->provenance.size(), 1u);
    ASSERT_EQ(without->provenance.size(), 1u);
    const Provenance &a = with->provenance[0], &b = without->provenance[0];
    EXPECT_TRUE(a.has_path);
    EXPECT_EQ(a.path, files[i].path);
    EXPECT_FALSE(b.has_path);
    EXPECT_TRUE(b.path.empty());
    EXPECT_EQ(b.source_id, a.source_id);
    EXPECT_EQ(b.mode, files[i].mode);
    EXPECT_EQ(b.flags, files[i].flags);
    EXPECT_EQ(b.file_index, a.file_index);
    auto p = st->FilePath(b.source_id, b.file_index);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    EXPECT_EQ(*p, files[i].path);
  }
  EXPECT_FALSE(st->Lookup(Sha("absent"), LookupOptions{.paths = false})->known());
  EXPECT_EQ(st->FilePath(sum->source_id, 600).status().code(), Code::kNotFound);
  EXPECT_EQ(st->FilePath(sum->source_id, 5000).status().code(), Code::kNotFound);
  EXPECT_EQ(st->FilePath(sum->source_id + 1, 0).status().code(), Code::kNotFound);
  // A replaced local trust is deleted: its path is gone with it.
  ASSERT_TRUE(st->TrustLocal("/etc/motd", Sha("motd 1"), 0100644).ok());
  auto m = st->Lookup(Sha("motd 1"), LookupOptions{.paths = false});
  ASSERT_EQ(m->provenance.size(), 1u);
  EXPECT_EQ(*st->FilePath(m->provenance[0].source_id, 0), "/etc/motd");
  ASSERT_TRUE(st->TrustLocal("/etc/motd", Sha("motd 2"), 0100644).ok());
  EXPECT_EQ(st->FilePath(m->provenance[0].source_id, 0).status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace dfs

namespace dfs {
namespace {

TEST(StoreBasic, RpmWithoutPackageIsRejected) {
  testing::TempDir t;
  auto st = testing::OpenOrDie(t.Sub("s"));
  ImportItem it = testing::Rpm("x", "1-1", {testing::File("/bin/x", "x")});
  it.source.package.clear();
  auto r = st->Import(it, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("package"), std::string::npos);
}

TEST(StoreBasic, LongNamesAndOtherAlgorithms) {
  testing::TempDir t;
  auto st = testing::OpenOrDie(t.Sub("s"));
  ImportItem it;
  it.source.kind = SourceKind::kTlv;
  it.source.name = "tlv-" + std::string(2000, 'n');
  std::string long_path = "/" + std::string(3000, 'p');
  for (HashAlgo a : {HashAlgo::kMd5, HashAlgo::kSha1, HashAlgo::kSha224, HashAlgo::kSha384, HashAlgo::kSha512}) {
    it.files.push_back(FileEntry{HashBytes(a, "content").value(), long_path + std::string(HashAlgoName(a)), 0100600, 0});
  }
  auto r = st->Import(it, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto found = st->FindSource(it.source.name);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->id, r->source_id);
  for (const auto& f : it.files) {
    auto l = st->Lookup(f.digest);
    ASSERT_TRUE(l.ok());
    ASSERT_EQ(l->provenance.size(), 1u) << f.digest.ToString();
    EXPECT_EQ(l->provenance[0].path, f.path);
    EXPECT_EQ(l->provenance[0].mode, 0100600u);
  }
  auto stats = st->Stats();
  EXPECT_EQ(stats->digests_per_algo.size(), 5u);
  // A digest sharing the 8-byte index prefix with a stored one, but different, is unknown.
  Digest near = it.files[3].digest;
  near.bytes.back() ^= 1;
  EXPECT_FALSE(st->Lookup(near)->known());
  // sm3 has a kernel id and can be stored too; an unknown algorithm cannot.
  Digest unknown{HashAlgo::kUnknown, std::vector<uint8_t>(32, 1)};
  EXPECT_EQ(st->Lookup(unknown).status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace dfs

namespace dfs {
namespace {

TEST(StoreBasic, ImportAllWithTwoVersionsInOneBatch) {
  testing::TempDir t;
  auto st = testing::OpenOrDie(t.Sub("s"));
  using testing::File;
  using testing::Rpm;
  using testing::Sha;
  auto r = st->ImportAll({Rpm("hello", "1.0-1", {File("/usr/bin/hello", "one"), File("/usr/share/c", "common")}),
                          Rpm("hello", "2.0-1", {File("/usr/bin/hello", "two"), File("/usr/share/c", "common")}),
                          Rpm("other", "1-1", {File("/usr/bin/other", "common")}),
                          Rpm("hello", "0.5-1", {File("/usr/bin/hello", "half")})},
                         {}, false, SourceKind::kRpm);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 4u);
  EXPECT_EQ((*r)[1].superseded, std::vector<uint64_t>{(*r)[0].source_id});
  EXPECT_TRUE((*r)[3].older);
  EXPECT_EQ((*r)[0].new_digests + (*r)[1].new_digests + (*r)[2].new_digests + (*r)[3].new_digests, 2u);
  EXPECT_FALSE(st->Lookup(Sha("one"))->known());
  EXPECT_FALSE(st->Lookup(Sha("half"))->known());
  EXPECT_TRUE(st->Lookup(Sha("two"))->known());
  auto c = st->Lookup(Sha("common"));
  ASSERT_EQ(c->provenance.size(), 2u);
  EXPECT_TRUE(testing::StoreInvariantsHold(*st));
}

}  // namespace
}  // namespace dfs
