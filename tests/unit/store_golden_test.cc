// The committed golden stores (tests/golden/store/) still open and read back exactly; a store with
// a newer schema version, or one that is not a digestfs store, is refused.
#include <gtest/gtest.h>
#include <lmdb.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "cache/store.h"
#include "cache/store_format.h"
#include "store_test_util.h"
#include "tests/golden/store/fixture_v1.h"

namespace dfs {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

std::string CopyFixture(const TempDir& t, const std::string& version) {
  std::string dir = t.Sub("store");
  fs::create_directories(dir);
  fs::copy_file(std::string(DFS_SOURCE_DIR) + "/tests/golden/store/" + version + "/data.mdb",
                dir + "/data.mdb");
  return dir;
}

// Rewrites one meta record with raw LMDB, as another (newer, or foreign) program would.
void PutMeta(const std::string& dir, const std::string& key, const std::string& value) {
  MDB_env* env;
  ASSERT_EQ(mdb_env_create(&env), 0);
  mdb_env_set_maxdbs(env, 16);
  ASSERT_EQ(mdb_env_open(env, dir.c_str(), 0, 0644), 0);
  MDB_txn* txn;
  ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
  MDB_dbi dbi;
  ASSERT_EQ(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
  MDB_val k{key.size(), const_cast<char*>(key.data())},
      v{value.size(), const_cast<char*>(value.data())};
  ASSERT_EQ(mdb_put(txn, dbi, &k, &v, 0), 0);
  ASSERT_EQ(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
}

// Reads one meta record with raw LMDB (only while no Store has the directory open).
std::string GetMeta(const std::string& dir, const std::string& key) {
  MDB_env* env;
  EXPECT_EQ(mdb_env_create(&env), 0);
  mdb_env_set_maxdbs(env, 16);
  EXPECT_EQ(mdb_env_open(env, dir.c_str(), MDB_RDONLY, 0644), 0);
  MDB_txn* txn;
  EXPECT_EQ(mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn), 0);
  MDB_dbi dbi;
  EXPECT_EQ(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
  MDB_val k{key.size(), const_cast<char*>(key.data())}, v;
  std::string out;
  if (mdb_get(txn, dbi, &k, &v) == 0) out.assign(static_cast<const char*>(v.mv_data), v.mv_size);
  mdb_txn_abort(txn);
  mdb_env_close(env);
  return out;
}

uint32_t SchemaOnDisk(const std::string& dir) {
  std::string v = GetMeta(dir, "schema");
  uint32_t n = 0;
  EXPECT_EQ(v.size(), 4u);
  if (v.size() == 4) store_format::Reader(v).U32LE(&n);
  return n;
}

// Every record of the golden content (tests/golden/store/fixture_v1.h), whatever the schema.
void CheckGolden(Store* s) {
  using golden_v1::S;

  auto list = s->ListSources();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 6u);
  auto items = golden_v1::Items();
  const SourceState want_state[] = {SourceState::kSuperseded, SourceState::kActive,
                                    SourceState::kActive, SourceState::kActive,
                                    SourceState::kRemoved};
  for (size_t i = 0; i < items.size(); ++i) {
    const SourceInfo& got = (*list)[i];
    const SourceInfo& want = items[i].source;
    SCOPED_TRACE(want.name);
    EXPECT_EQ(got.id, i + 1);
    EXPECT_EQ(got.kind, want.kind);
    EXPECT_EQ(got.name, want.name);
    EXPECT_EQ(got.package, want.package);
    EXPECT_EQ(got.arch, want.arch);
    EXPECT_EQ(got.version, want.version);
    EXPECT_EQ(got.signer, want.signer);
    EXPECT_EQ(got.blob_digest, want.blob_digest);
    EXPECT_EQ(got.import_time, want.import_time);
    EXPECT_EQ(got.flags, want.flags);
    EXPECT_EQ(got.origin, want.origin);
    EXPECT_EQ(got.state, want_state[i]);
    auto files = s->SourceFiles(got.id);
    ASSERT_TRUE(files.ok());
    auto want_files = items[i].files;
    std::sort(want_files.begin(), want_files.end(),
              [](const FileEntry& a, const FileEntry& b) { return a.path < b.path; });
    ASSERT_EQ(files->size(), want_files.size());
    for (size_t j = 0; j < files->size(); ++j) {
      EXPECT_EQ((*files)[j].path, want_files[j].path);
      EXPECT_EQ((*files)[j].digest, want_files[j].digest);
      EXPECT_EQ((*files)[j].mode, want_files[j].mode);
      EXPECT_EQ((*files)[j].flags, want_files[j].flags);
    }
  }
  EXPECT_EQ((*list)[5].kind, SourceKind::kLocal);
  EXPECT_EQ((*list)[5].name, golden_v1::kLocalPath);

  // Lookups: active sources only; shared digests list every active source; deny wins.
  EXPECT_FALSE(s->Lookup(S("hello 1.0"))->known());
  auto h = s->Lookup(S("hello 2.0"));
  ASSERT_EQ(h->provenance.size(), 1u);
  EXPECT_EQ(h->provenance[0].source_id, 2u);
  EXPECT_EQ(h->provenance[0].path, "/usr/bin/hello");
  EXPECT_EQ(h->provenance[0].mode, 0100755u);
  auto gpl = s->Lookup(S("GPL text"));
  ASSERT_EQ(gpl->provenance.size(), 2u);
  auto conf = s->Lookup(S("hello.conf"));
  ASSERT_EQ(conf->provenance.size(), 1u);
  EXPECT_EQ(conf->provenance[0].flags, kFileConfig | kFileMutable);
  EXPECT_EQ(conf->provenance[0].mode, 0100640u);
  EXPECT_TRUE(s->Lookup(golden_v1::D(HashAlgo::kSha384, "ext4.ko"))->known());
  EXPECT_FALSE(s->Lookup(S("app binary"))->known());
  auto motd = s->Lookup(S("motd"));
  ASSERT_EQ(motd->provenance.size(), 1u);
  EXPECT_EQ(motd->provenance[0].source_id, 6u);
  EXPECT_TRUE(s->Lookup(S("evil"))->denied);
  auto deny = s->DenyList();
  ASSERT_EQ(deny->size(), 1u);
  EXPECT_EQ((*deny)[0].second, golden_v1::kDenyReason);

  auto stats = s->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->digests, 6u);
  EXPECT_EQ(stats->provenance_records, 7u);
  EXPECT_EQ(stats->deny_entries, 1u);
}

// Schema 1 read as it is by a read-only open (a daemon of this build on a store not yet upgraded).
TEST(StoreGolden, V1ReadsBackExactlyReadOnly) {
  TempDir t;
  std::string dir = CopyFixture(t, "v1");
  {
    auto st = testing::OpenOrDie(dir, false, /*read_only=*/true);
    ASSERT_TRUE(st);
    CheckGolden(st.get());
    EXPECT_EQ(st->Generation(), 1u);
  }
  EXPECT_EQ(SchemaOnDisk(dir), 1u);  // untouched
}

// A writable open upgrades schema 1 to 2 in one transaction; every record reads back the same.
TEST(StoreGolden, V1IsUpgradedByAWritableOpen) {
  TempDir t;
  std::string dir = CopyFixture(t, "v1");
  {
    auto s = testing::OpenOrDie(dir, false);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->Generation(), 2u);  // the upgrade is one committed write
    CheckGolden(s.get());
  }
  EXPECT_EQ(SchemaOnDisk(dir), 2u);
  {
    auto s = testing::OpenOrDie(dir, false);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->Generation(), 2u);  // nothing more to upgrade: nothing written
  }
  auto st = testing::OpenOrDie(dir, false, /*read_only=*/true);
  ASSERT_TRUE(st);
  CheckGolden(st.get());
}

// A read-only open of a v1 store keeps answering right while another process upgrades it.
TEST(StoreGolden, ReadOnlyOpenFollowsAnUpgradeByAnotherProcess) {
  TempDir t;
  std::string dir = CopyFixture(t, "v1");
  auto st = testing::OpenOrDie(dir, false, /*read_only=*/true);
  ASSERT_TRUE(st);
  CheckGolden(st.get());
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto w = Store::Open(dir, StoreOptions{});
    ::_exit(w.ok() && (*w)->Generation() == 2 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(st->Generation(), 2u);
  CheckGolden(st.get());
}

// The schema-2 fixture (written by this build's tests/tools/store_fixture_gen).
TEST(StoreGolden, V2ReadsBackExactly) {
  TempDir t;
  std::string dir = CopyFixture(t, "v2");
  {
    auto st = testing::OpenOrDie(dir, false, /*read_only=*/true);
    ASSERT_TRUE(st);
    CheckGolden(st.get());
  }
  auto s = testing::OpenOrDie(dir, false);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->Generation(), 1u);  // already current: a writable open writes nothing
  CheckGolden(s.get());
  s.reset();
  EXPECT_EQ(SchemaOnDisk(dir), 2u);
}

TEST(StoreGolden, V1AcceptsWritesAfterReopen) {
  TempDir t;
  std::string dir = CopyFixture(t, "v1");
  auto s = testing::OpenOrDie(dir, false);
  ASSERT_TRUE(s);
  uint64_t g = s->Generation();
  auto r = s->Import(golden_v1::Rpm("hello", "3.0-1", 1700000500,
                                    {{golden_v1::S("hello 3.0"), "/usr/bin/hello", 0100755, 0}}),
                     {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->source_id, 7u);  // next_source_id survived
  ASSERT_EQ(r->superseded.size(), 1u);
  EXPECT_EQ(r->superseded[0], 2u);
  EXPECT_GT(s->Generation(), g);
}

TEST(StoreGolden, NewerSchemaIsRefused) {
  TempDir t;
  std::string dir = CopyFixture(t, "v1");
  std::string v;
  store_format::PutU32LE(&v, kStoreSchemaVersion + 1);
  PutMeta(dir, "schema", v);
  for (bool ro : {false, true}) {
    StoreOptions o;
    o.read_only = ro;
    auto st = Store::Open(dir, o);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.status().code(), Code::kVersion);
    EXPECT_NE(
        st.status().message().find("schema version " + std::to_string(kStoreSchemaVersion + 1)),
        std::string::npos)
        << st.status().message();
  }
}

TEST(StoreGolden, ForeignOrDamagedMetaIsCorrupt) {
  TempDir t;
  std::string dir = CopyFixture(t, "v1");
  PutMeta(dir, "format", "something-else");
  auto st = Store::Open(dir, StoreOptions{});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().code(), Code::kCorrupt);

  TempDir t2;
  dir = CopyFixture(t2, "v1");
  PutMeta(dir, "schema", "xx");
  st = Store::Open(dir, StoreOptions{});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().code(), Code::kCorrupt);

  TempDir t3;
  dir = CopyFixture(t3, "v1");
  PutMeta(dir, "next_source_id", "1");
  st = Store::Open(dir, StoreOptions{});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().code(), Code::kCorrupt);
}

TEST(StoreGolden, PlainLmdbEnvironmentIsNotAStore) {
  TempDir t;
  std::string dir = t.Sub("other");
  fs::create_directories(dir);
  MDB_env* env;
  ASSERT_EQ(mdb_env_create(&env), 0);
  ASSERT_EQ(mdb_env_open(env, dir.c_str(), 0, 0644), 0);
  MDB_txn* txn;
  ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
  MDB_dbi dbi;
  ASSERT_EQ(mdb_dbi_open(txn, nullptr, 0, &dbi), 0);
  MDB_val k{3, const_cast<char*>("key")}, v{3, const_cast<char*>("val")};
  ASSERT_EQ(mdb_put(txn, dbi, &k, &v, 0), 0);
  ASSERT_EQ(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
  auto st = Store::Open(dir, StoreOptions{});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().code(), Code::kCorrupt);
}

}  // namespace
}  // namespace dfs
