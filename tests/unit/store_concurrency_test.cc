// Readers never see half a write: while a writer (a thread, or another process growing the map)
// imports version after version of one package, every reader lookup of a digest that all versions
// share finds exactly one active provenance record, and generations never go backwards.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "cache/store.h"
#include "store_test_util.h"

namespace dfs {
namespace {

using testing::File;
using testing::Rpm;
using testing::Sha;
using testing::TempDir;

ImportItem Version(int v, int extra_files) {
  std::vector<FileEntry> files = {File("/usr/bin/hello", "hello v" + std::to_string(v)),
                                  File("/usr/share/hello/common", "shared by every version")};
  for (int i = 0; i < extra_files; ++i) {
    files.push_back(File("/usr/share/hello/data/" + std::to_string(i), "v" + std::to_string(v) + " data " + std::to_string(i)));
  }
  return Rpm("hello", std::to_string(v) + ".0-1", std::move(files));
}

struct ReaderStats {
  std::atomic<uint64_t> lookups{0};
  std::atomic<uint64_t> errors{0};
  std::atomic<uint64_t> violations{0};
};

void ReaderLoop(const Store& s, const std::atomic<bool>& stop, ReaderStats& rs) {
  uint64_t last_gen = 0;
  const Digest common = Sha("shared by every version");
  while (!stop.load(std::memory_order_relaxed)) {
    uint64_t g = s.Generation();
    if (g < last_gen) rs.violations++;
    last_gen = g;
    auto r = s.Lookup(common);
    rs.lookups++;
    if (!r.ok()) {
      rs.errors++;
      ADD_FAILURE() << r.status().ToString();
      continue;
    }
    if (r->provenance.size() != 1 || r->provenance[0].path != "/usr/share/hello/common") rs.violations++;
  }
}

TEST(StoreConcurrency, ThreadsSeeWholeWrites) {
  TempDir t;
  auto st = testing::OpenOrDie(t.Sub("s"));
  ASSERT_TRUE(st->Import(Version(1, 10), {}).ok());
  std::atomic<bool> stop{false};
  ReaderStats rs;
  std::vector<std::thread> readers;
  for (int i = 0; i < 4; ++i) readers.emplace_back([&] { ReaderLoop(*st, stop, rs); });
  for (int v = 2; v <= 60; ++v) {
    auto r = st->Import(Version(v, 200), {});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->superseded.size(), 1u);
  }
  stop = true;
  for (auto& th : readers) th.join();
  EXPECT_GT(rs.lookups.load(), 100u);
  EXPECT_EQ(rs.errors.load(), 0u);
  EXPECT_EQ(rs.violations.load(), 0u);
  EXPECT_TRUE(testing::StoreInvariantsHold(*st, 7));
}

// The writer is another process, which also grows the map past the readers' mapping, so the
// readers go through MDB_MAP_RESIZED and remap while other reader threads are live.
TEST(StoreConcurrency, ProcessWriterGrowsMapUnderReaders) {
  TempDir t;
  const std::string dir = t.Sub("s");
  StoreOptions o;
  o.create = true;
  o.initial_map_size = 256 << 10;
  auto opened = Store::Open(dir, o);
  ASSERT_TRUE(opened.ok());
  auto& st = *opened;
  ASSERT_TRUE(st->Import(Version(1, 10), {}).ok());
  std::vector<ImportItem> versions;
  for (int v = 2; v <= 25; ++v) versions.push_back(Version(v, 3000));

  std::atomic<bool> stop{false};
  ReaderStats rs;
  const uint64_t gen_before = st->Generation();
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Child: no threads were inherited except this one; open our own environment (the registry
    // ignores the parent's, which belongs to another pid).
    StoreOptions co;
    co.initial_map_size = 256 << 10;
    auto cs = Store::Open(dir, co);
    if (!cs.ok()) ::_exit(3);
    for (const auto& item : versions) {
      if (!(*cs)->Import(item, {}).ok()) ::_exit(1);
    }
    ::_exit(0);
  }
  std::vector<std::thread> readers;
  for (int i = 0; i < 3; ++i) readers.emplace_back([&] { ReaderLoop(*st, stop, rs); });
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  stop = true;
  for (auto& th : readers) th.join();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_GT(rs.lookups.load(), 100u);
  EXPECT_EQ(rs.errors.load(), 0u);
  EXPECT_EQ(rs.violations.load(), 0u);
  // The parent sees the child's commits: its generation moved by one per import, without any
  // transaction of its own.
  EXPECT_EQ(st->Generation(), gen_before + versions.size());
  // The parent sees the child's last version and can write after the remap.
  EXPECT_TRUE(st->Lookup(Sha("hello v25"))->known());
  EXPECT_FALSE(st->Lookup(Sha("hello v24"))->known());
  ASSERT_TRUE(st->DenyAdd(Sha("x"), "").ok());
  EXPECT_TRUE(testing::StoreInvariantsHold(*st, 13));
}

}  // namespace
}  // namespace dfs
