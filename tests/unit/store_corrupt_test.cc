// A damaged data.mdb is reported (kCorrupt, or kNotFound for an empty directory), never a crash:
// truncation at many lengths, every byte of both LMDB meta pages flipped, garbage files.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "cache/store.h"
#include "store_test_util.h"

namespace dfs {
namespace {

using testing::File;
using testing::Rpm;
using testing::Sha;
using testing::TempDir;
namespace fs = std::filesystem;

// Builds a small store with a few sources and returns the bytes of its data.mdb.
std::string MakeStoreBytes(const TempDir& t) {
  std::string dir = t.Sub("orig");
  {
    auto st = testing::OpenOrDie(dir);
    std::vector<FileEntry> files;
    for (int i = 0; i < 600; ++i) files.push_back(File("/usr/share/x/f" + std::to_string(i), "c" + std::to_string(i)));
    EXPECT_TRUE(st->Import(Rpm("big", "1-1", files), {}).ok());
    EXPECT_TRUE(st->Import(Rpm("small", "1-1", {File("/bin/s", "s")}), {}).ok());
    EXPECT_TRUE(st->DenyAdd(Sha("bad"), "x").ok());
  }
  std::ifstream in(dir + "/data.mdb", std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteStore(const std::string& dir, const std::string& bytes) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream out(dir + "/data.mdb", std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Opens a damaged store and, if it opens, uses every read path. Returns the open status.
Status Exercise(const std::string& dir, bool read_only) {
  StoreOptions o;
  o.read_only = read_only;
  auto st = Store::Open(dir, o);
  if (!st.ok()) return st.status();
  auto& s = *st;
  auto ok_or_corrupt = [](const Status& x) {
    EXPECT_TRUE(x.ok() || x.code() == Code::kCorrupt || x.code() == Code::kNotFound) << x.ToString();
  };
  (void)s->Generation();
  ok_or_corrupt(s->Lookup(Sha("c1")).status());
  ok_or_corrupt(s->Lookup(Sha("s")).status());
  ok_or_corrupt(s->Stats().status());
  auto l = s->ListSources();
  ok_or_corrupt(l.status());
  if (l.ok()) {
    for (auto& src : *l) ok_or_corrupt(s->SourceFiles(src.id).status());
  }
  ok_or_corrupt(s->DenyList().status());
  return Status::Ok();
}

TEST(StoreCorrupt, TruncatedIsCorrupt) {
  TempDir t;
  std::string bytes = MakeStoreBytes(t);
  ASSERT_GT(bytes.size(), 8192u);
  for (size_t len : {size_t{0}, size_t{1}, size_t{100}, size_t{4095}, size_t{4096}, size_t{8191}, size_t{8192},
                     size_t{12288}, bytes.size() / 2, bytes.size() - 4096, bytes.size() - 1}) {
    SCOPED_TRACE(len);
    std::string dir = t.Sub("trunc");
    WriteStore(dir, bytes.substr(0, len));
    for (bool ro : {true, false}) {
      StoreOptions o;
      o.read_only = ro;
      auto st = Store::Open(dir, o);
      ASSERT_FALSE(st.ok());
      EXPECT_EQ(st.status().code(), Code::kCorrupt) << st.status().ToString();
      EXPECT_NE(st.status().message().find("data.mdb"), std::string::npos) << st.status().message();
    }
    // Nothing was written to the damaged file.
    EXPECT_EQ(fs::file_size(dir + "/data.mdb"), len);
  }
}

TEST(StoreCorrupt, GarbageIsCorrupt) {
  TempDir t;
  std::mt19937 rng(7);
  for (size_t len : {size_t{8192}, size_t{65536}}) {
    std::string g(len, '\0');
    for (auto& c : g) c = static_cast<char>(rng());
    std::string dir = t.Sub("garbage");
    WriteStore(dir, g);
    auto st = Store::Open(dir, StoreOptions{});
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.status().code(), Code::kCorrupt);
  }
  std::string dir = t.Sub("zeros");
  WriteStore(dir, std::string(65536, '\0'));
  auto st = Store::Open(dir, StoreOptions{});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().code(), Code::kCorrupt);
}

TEST(StoreCorrupt, DataFileIsADirectory) {
  TempDir t;
  fs::create_directories(t.Sub("s/data.mdb"));
  auto st = Store::Open(t.Sub("s"), StoreOptions{});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().code(), Code::kCorrupt);
}

// Flips each byte of the page header and meta record of both meta pages. Every outcome must be a
// clean error or a store whose read paths answer (some fields, like entry counts or the map
// address, are not used for anything that could go wrong).
TEST(StoreCorrupt, MetaPageByteFlips) {
  TempDir t;
  const std::string bytes = MakeStoreBytes(t);
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  int refused = 0, opened = 0;
  for (size_t p = 0; p < 2; ++p) {
    for (size_t off = 0; off < 16 + 136; ++off) {
      SCOPED_TRACE("page " + std::to_string(p) + " offset " + std::to_string(off));
      std::string b = bytes;
      b[p * page + off] = static_cast<char>(b[p * page + off] ^ 0xff);
      std::string dir = t.Sub("flip");
      WriteStore(dir, b);
      Status s = Exercise(dir, (off & 1) != 0);
      if (s.ok()) {
        ++opened;
      } else {
        ++refused;
        EXPECT_TRUE(s.code() == Code::kCorrupt || s.code() == Code::kVersion) << s.ToString();
      }
    }
  }
  // The magic, version, page number, flags, page size, last page and roots are all checked.
  EXPECT_GT(refused, 100);
  RecordProperty("refused", refused);
  RecordProperty("opened", opened);
}

}  // namespace
}  // namespace dfs
