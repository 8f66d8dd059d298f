// Crash consistency: a child process imports a large source and is killed with SIGKILL at
// spread-out moments. After each kill the store must hold all of the import or none of it, its
// invariants must hold, the generation must have moved exactly when the import is there, and the
// next writer must get the (robust) writer lock.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <thread>

#include "cache/store.h"
#include "store_test_util.h"

namespace dfs {
namespace {

using testing::File;
using testing::Rpm;
using testing::Sha;
using testing::TempDir;

constexpr int kFiles = 60000;

ImportItem Bulk(int iter) {
  std::vector<FileEntry> files;
  files.reserve(kFiles);
  for (int i = 0; i < kFiles; ++i) {
    files.push_back(File("/usr/share/bulk" + std::to_string(iter) + "/d" + std::to_string(i / 64) + "/f" +
                             std::to_string(i),
                         "bulk " + std::to_string(iter) + " " + std::to_string(i)));
  }
  // Each bulk version supersedes the previous one, so a commit also rewrites an old source.
  return Rpm("bulk", std::to_string(iter + 1) + "-1", std::move(files));
}

TEST(StoreCrash, SigkillDuringImportIsAllOrNothing) {
  TempDir t;
  const std::string dir = t.Sub("s");
  {
    auto st = testing::OpenOrDie(dir);
    ASSERT_TRUE(st->Import(Rpm("base", "1-1", {File("/bin/base", "base")}), {}).ok());
  }
  std::mt19937 rng(12345);
  // Kill delays spread over an import's lifetime (one import takes ~0.2-1 s here); the last one
  // usually lets it finish.
  const int delays_ms[] = {5, 20, 40, 70, 100, 140, 180, 230, 300, 2500};
  int committed = 0, rolled_back = 0;
  for (int iter = 0; iter < static_cast<int>(std::size(delays_ms)); ++iter) {
    SCOPED_TRACE("iteration " + std::to_string(iter));
    uint64_t gen_before, digests_before;
    size_t sources_before;
    {
      auto st = testing::OpenOrDie(dir, false);
      gen_before = st->Generation();
      digests_before = st->Stats()->digests;
      sources_before = st->ListSources()->size();
    }
    ImportItem item = Bulk(iter);  // built before fork: the child only imports
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      StoreOptions o;
      o.initial_map_size = 1 << 20;  // force map growth during the import too
      auto st = Store::Open(dir, o);
      if (!st.ok()) ::_exit(3);
      auto r = (*st)->Import(item, {});
      ::_exit(r.ok() ? 0 : 1);
    }
    int jitter = static_cast<int>(rng() % 20);
    std::this_thread::sleep_for(std::chrono::milliseconds(delays_ms[iter] + jitter));
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    if (WIFEXITED(status)) {
      ASSERT_EQ(WEXITSTATUS(status), 0) << "child import failed";
    }

    auto st = testing::OpenOrDie(dir, false);
    ASSERT_TRUE(st);
    auto src = st->FindSource(item.source.name);
    auto stats = st->Stats();
    ASSERT_TRUE(stats.ok());
    if (src.ok()) {
      ++committed;
      EXPECT_EQ(src->state, SourceState::kActive);
      EXPECT_GT(st->Generation(), gen_before);
      EXPECT_EQ(st->ListSources()->size(), sources_before + 1);
      auto files = st->SourceFiles(src->id);
      ASSERT_TRUE(files.ok());
      EXPECT_EQ(files->size(), static_cast<size_t>(kFiles));
      if (iter > 0) {
        auto prev = st->FindSource(Bulk(iter - 1).source.name);
        if (prev.ok()) {
          EXPECT_EQ(prev->state, SourceState::kSuperseded);
        }
      }
    } else {
      ++rolled_back;
      EXPECT_EQ(src.status().code(), Code::kNotFound);
      EXPECT_EQ(st->Generation(), gen_before);
      EXPECT_EQ(stats->digests, digests_before);
      EXPECT_EQ(st->ListSources()->size(), sources_before);
      for (int i = 0; i < kFiles; i += 997) {
        EXPECT_FALSE(st->Lookup(Sha("bulk " + std::to_string(iter) + " " + std::to_string(i)))->known());
      }
    }
    EXPECT_TRUE(testing::StoreInvariantsHold(*st, 101));
    // The writer lock is usable after the kill.
    ASSERT_TRUE(st->DenyAdd(Sha("after " + std::to_string(iter)), "").ok());
  }
  RecordProperty("committed", committed);
  RecordProperty("rolled_back", rolled_back);
  std::printf("crash iterations: committed=%d rolled_back=%d\n", committed, rolled_back);
  EXPECT_GT(rolled_back, 0);  // at least one kill landed mid-import
}

}  // namespace
}  // namespace dfs
