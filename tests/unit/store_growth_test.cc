// The map grows on demand; a map that may not grow further, or a full disk, is kFull and loses
// nothing.
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <cstring>
#include <filesystem>

#include "cache/store.h"
#include "store_test_util.h"

namespace dfs {
namespace {

using testing::File;
using testing::Rpm;
using testing::Sha;
using testing::TempDir;

std::vector<FileEntry> ManyFiles(const std::string& tag, int n) {
  std::vector<FileEntry> files;
  for (int i = 0; i < n; ++i) {
    files.push_back(File("/usr/lib64/" + tag + "/dir" + std::to_string(i / 100) + "/file" + std::to_string(i) + ".so",
                         tag + std::to_string(i)));
  }
  return files;
}

TEST(StoreGrowth, TinyMapGrowsOnDemand) {
  TempDir t;
  StoreOptions o;
  o.create = true;
  o.initial_map_size = 64 << 10;
  auto st = Store::Open(t.Sub("s"), o);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  for (int round = 0; round < 3; ++round) {
    auto r = (*st)->Import(Rpm("pkg" + std::to_string(round), "1-1", ManyFiles("r" + std::to_string(round), 5000)), {});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->new_digests, 5000u);
  }
  auto stats = (*st)->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->digests, 15000u);
  EXPECT_GT(stats->bytes_on_disk, uint64_t{64 << 10});
  EXPECT_TRUE((*st)->Lookup(Sha("r24999"))->known());
}

TEST(StoreGrowth, MapLimitIsFullAndLosesNothing) {
  TempDir t;
  StoreOptions o;
  o.create = true;
  o.initial_map_size = 64 << 10;
  o.max_map_size = 256 << 10;
  auto st = Store::Open(t.Sub("s"), o);
  ASSERT_TRUE(st.ok());
  ASSERT_TRUE((*st)->Import(Rpm("small", "1-1", {File("/bin/small", "small")}), {}).ok());
  uint64_t g = (*st)->Generation();
  auto r = (*st)->Import(Rpm("huge", "1-1", ManyFiles("h", 20000)), {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kFull);
  EXPECT_EQ((*st)->Generation(), g);
  EXPECT_TRUE((*st)->Lookup(Sha("small"))->known());
  EXPECT_FALSE((*st)->Lookup(Sha("h1"))->known());
  EXPECT_EQ((*st)->ListSources()->size(), 1u);
  // Still writable after the failure.
  ASSERT_TRUE((*st)->Import(Rpm("other", "1-1", {File("/bin/other", "other")}), {}).ok());
  st = Result<std::unique_ptr<Store>>(Status(Code::kInternal, "closed"));
  auto again = testing::OpenOrDie(t.Sub("s"), false);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->Lookup(Sha("other"))->known());
}

// A real full disk: a 2 MiB tmpfs (needs root to mount; skipped otherwise).
TEST(StoreGrowth, DiskFullIsFull) {
  TempDir t;
  std::string mnt = t.Sub("mnt");
  std::filesystem::create_directories(mnt);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=2m") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs (needs root): " << std::strerror(errno);
  }
  struct Unmount {
    std::string m;
    ~Unmount() { ::umount2(m.c_str(), MNT_DETACH); }
  } unmount{mnt};
  {
    auto st = testing::OpenOrDie(mnt + "/s");
    ASSERT_TRUE(st);
    ASSERT_TRUE(st->Import(Rpm("small", "1-1", {File("/bin/small", "small")}), {}).ok());
    auto r = st->Import(Rpm("huge", "1-1", ManyFiles("h", 40000)), {});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::kFull) << r.status().ToString();
    EXPECT_TRUE(st->Lookup(Sha("small"))->known());
  }
  auto st = testing::OpenOrDie(mnt + "/s", false);
  ASSERT_TRUE(st);
  EXPECT_TRUE(st->Lookup(Sha("small"))->known());
  EXPECT_FALSE(st->Lookup(Sha("h1"))->known());
}

}  // namespace
}  // namespace dfs
