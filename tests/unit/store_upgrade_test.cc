// Schema 1 -> 2 on stores larger than the golden fixture (several chunks per source, restart
// points, shared digests, a superseded and a local source). A v1 store is made here by rewriting
// a v2 store's digests references back to the v1 layout with raw LMDB (the two schemas differ only
// there, docs/store-format.md). A read-only open reads it as it is; a writable open upgrades it in
// one transaction, and a SIGKILL during the upgrade leaves either the v1 store or the v2 one.
#include <gtest/gtest.h>
#include <lmdb.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "cache/store.h"
#include "cache/store_format.h"
#include "store_test_util.h"

namespace dfs {
namespace {

using testing::File;
using testing::Rpm;
using testing::Sha;
using testing::TempDir;
namespace fs = std::filesystem;

// Raw LMDB access to a store no Store object has open.
struct RawEnv {
  MDB_env* env = nullptr;
  explicit RawEnv(const std::string& dir, unsigned flags = 0) {
    EXPECT_EQ(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 16);
    EXPECT_EQ(mdb_env_open(env, dir.c_str(), flags, 0644), 0);
  }
  ~RawEnv() { mdb_env_close(env); }
};

uint32_t SchemaOnDisk(const std::string& dir) {
  RawEnv e(dir, MDB_RDONLY);
  MDB_txn* txn;
  EXPECT_EQ(mdb_txn_begin(e.env, nullptr, MDB_RDONLY, &txn), 0);
  MDB_dbi meta;
  EXPECT_EQ(mdb_dbi_open(txn, "meta", 0, &meta), 0);
  MDB_val k{6, const_cast<char*>("schema")}, v;
  uint32_t n = 0;
  if (mdb_get(txn, meta, &k, &v) == 0 && v.mv_size == 4) std::memcpy(&n, v.mv_data, 4);
  mdb_txn_abort(txn);
  return n;
}

// Rewrites every digests reference to the schema-1 layout (no offset) and sets meta/schema to 1.
void DowngradeToV1(const std::string& dir) {
  RawEnv e(dir);
  MDB_txn* txn;
  ASSERT_EQ(mdb_txn_begin(e.env, nullptr, 0, &txn), 0);
  MDB_dbi digests, meta;
  ASSERT_EQ(mdb_dbi_open(txn, "digests", 0, &digests), 0);
  ASSERT_EQ(mdb_dbi_open(txn, "meta", 0, &meta), 0);
  std::vector<std::pair<std::string, std::string>> rewritten;
  MDB_cursor* c;
  ASSERT_EQ(mdb_cursor_open(txn, digests, &c), 0);
  MDB_val k, v;
  for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
    std::vector<store_format::FileRef> refs;
    ASSERT_TRUE(store_format::DecodeRefs(
                    std::string_view(static_cast<const char*>(v.mv_data), v.mv_size), &refs)
                    .ok());
    std::string v1;
    for (const auto& r : refs) {
      store_format::PutVarint(&v1, r.source_id);
      store_format::PutVarint(&v1, r.index);
    }
    rewritten.emplace_back(std::string(static_cast<const char*>(k.mv_data), k.mv_size), v1);
  }
  mdb_cursor_close(c);
  for (auto& [key, val] : rewritten) {
    MDB_val kk{key.size(), key.data()}, vv{val.size(), val.data()};
    ASSERT_EQ(mdb_put(txn, digests, &kk, &vv, 0), 0);
  }
  std::string one;
  store_format::PutU32LE(&one, 1);
  MDB_val sk{6, const_cast<char*>("schema")}, sv{one.size(), one.data()};
  ASSERT_EQ(mdb_put(txn, meta, &sk, &sv, 0), 0);
  ASSERT_EQ(mdb_txn_commit(txn), 0);
}

std::vector<FileEntry> Files(const std::string& tag, int n) {
  std::vector<FileEntry> files;
  for (int i = 0; i < n; ++i) {
    files.push_back(File(
        "/usr/lib/" + tag + "/d" + std::to_string(i / 40) + "/module_" + std::to_string(i) + ".py",
        tag + " " + std::to_string(i), i % 5 == 0 ? kFileConfig | kFileMutable : 0));
  }
  return files;
}

// Checks a sample of lookups without paths against the same lookups with paths and FilePath.
::testing::AssertionResult PathlessLookupsAgree(const Store& s,
                                                const std::vector<FileEntry>& files) {
  for (size_t i = 0; i < files.size(); i += 31) {
    auto with = s.Lookup(files[i].digest);
    auto without = s.Lookup(files[i].digest, LookupOptions{.paths = false});
    if (!with.ok() || !without.ok()) return ::testing::AssertionFailure() << "lookup failed";
    if (with->provenance.size() != without->provenance.size()) {
      return ::testing::AssertionFailure() << files[i].path << ": provenance differs";
    }
    for (size_t j = 0; j < with->provenance.size(); ++j) {
      const Provenance &a = with->provenance[j], &b = without->provenance[j];
      std::string path = b.path;
      if (!b.has_path) {
        auto p = s.FilePath(b.source_id, b.file_index);
        if (!p.ok()) return ::testing::AssertionFailure() << p.status().ToString();
        path = *p;
      }
      if (a.source_id != b.source_id || a.mode != b.mode || a.flags != b.flags || a.path != path) {
        return ::testing::AssertionFailure() << files[i].path << ": records differ";
      }
    }
  }
  return ::testing::AssertionSuccess();
}

// A v2 store with several multi-chunk sources, turned into a v1 one. Returns the files of the
// active rpm source "b" (for the pathless check).
std::vector<FileEntry> MakeV1Store(const std::string& dir, int per_source) {
  auto b = Files("b", per_source);
  {
    auto st = testing::OpenOrDie(dir);
    EXPECT_TRUE(st->Import(Rpm("a", "1-1", Files("a", per_source)), {}).ok());
    EXPECT_TRUE(st->Import(Rpm("a", "2-1", Files("a2", per_source)), {}).ok());  // supersedes a 1-1
    auto shared = b;
    shared.resize(per_source / 3);  // c ships a third of b's content, at other paths
    for (auto& f : shared) f.path = "/opt/c" + f.path;
    EXPECT_TRUE(st->Import(Rpm("b", "1-1", b), {}).ok());
    EXPECT_TRUE(st->Import(Rpm("c", "1-1", shared), {}).ok());
    EXPECT_TRUE(st->TrustLocal("/etc/motd", Sha("motd"), 0100644).ok());
  }
  DowngradeToV1(dir);
  EXPECT_EQ(SchemaOnDisk(dir), 1u);
  return b;
}

TEST(StoreUpgrade, LargeV1StoreIsReadAsItIsThenUpgraded) {
  TempDir t;
  const std::string dir = t.Sub("s");
  auto b = MakeV1Store(dir, 1500);
  {
    auto st = testing::OpenOrDie(dir, false, true);
    ASSERT_TRUE(st);
    EXPECT_TRUE(testing::StoreInvariantsHold(*st, 3));
    EXPECT_TRUE(PathlessLookupsAgree(*st, b));
    EXPECT_EQ(st->Lookup(b[0].digest)->provenance.size(), 2u);  // shipped by b and c
  }
  EXPECT_EQ(SchemaOnDisk(dir), 1u);  // reading changed nothing
  {
    auto st = testing::OpenOrDie(dir, false);
    ASSERT_TRUE(st);
    EXPECT_TRUE(testing::StoreInvariantsHold(*st, 3));
    EXPECT_TRUE(PathlessLookupsAgree(*st, b));
    // Writes after the upgrade keep the invariants.
    ASSERT_TRUE(st->Import(Rpm("b", "2-1", Files("b2", 700)), {}).ok());
    EXPECT_TRUE(testing::StoreInvariantsHold(*st, 3));
  }
  EXPECT_EQ(SchemaOnDisk(dir), 2u);
}

TEST(StoreUpgrade, SigkillDuringUpgradeLeavesV1OrV2) {
  TempDir t;
  const std::string tmpl = t.Sub("template");
  auto b = MakeV1Store(tmpl, 30000);
  const int delays_ms[] = {0, 3, 10, 20, 35, 50, 80, 120, 3000};
  int stayed_v1 = 0, upgraded = 0;
  for (int delay : delays_ms) {
    SCOPED_TRACE("kill after " + std::to_string(delay) + " ms");
    const std::string dir = t.Sub("s" + std::to_string(delay));
    fs::create_directories(dir);
    fs::copy_file(tmpl + "/data.mdb", dir + "/data.mdb");
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto st = Store::Open(dir, StoreOptions{});
      ::_exit(st.ok() ? 0 : 1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    if (WIFEXITED(status)) {
      EXPECT_EQ(WEXITSTATUS(status), 0);
    }
    const uint32_t schema = SchemaOnDisk(dir);
    ASSERT_TRUE(schema == 1 || schema == 2) << schema;
    (schema == 1 ? stayed_v1 : upgraded)++;
    {
      auto st = testing::OpenOrDie(dir, false, true);
      ASSERT_TRUE(st);
      EXPECT_TRUE(testing::StoreInvariantsHold(*st, 97));
      EXPECT_TRUE(PathlessLookupsAgree(*st, b));
    }
    {
      auto st = testing::OpenOrDie(dir, false);  // finishes (or repeats nothing of) the upgrade
      ASSERT_TRUE(st);
      EXPECT_TRUE(testing::StoreInvariantsHold(*st, 97));
    }
    EXPECT_EQ(SchemaOnDisk(dir), 2u);
  }
  RecordProperty("stayed_v1", stayed_v1);
  RecordProperty("upgraded", upgraded);
  EXPECT_GE(stayed_v1, 1);  // killed before its commit at least once (0 ms)
  EXPECT_GE(upgraded, 1);   // and left to finish at least once (3 s)
}

}  // namespace
}  // namespace dfs
