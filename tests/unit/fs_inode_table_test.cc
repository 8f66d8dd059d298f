// Unit tests for fs/inode_table.h (lookup references, dedup by (dev, ino), best-effort paths) and
// for the Gate change notifications of fs/passthrough.h, with a fake Gate.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <vector>

#include "fs/inode_table.h"
#include "fs/passthrough.h"

namespace dfs::fs {
namespace {

class TempTree : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/fs_inode_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::filesystem::create_directories(dir_ + "/a/b");
    close(open((dir_ + "/a/b/file").c_str(), O_CREAT | O_WRONLY, 0644));
    ASSERT_EQ(link((dir_ + "/a/b/file").c_str(), (dir_ + "/a/hard").c_str()), 0);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // An O_PATH descriptor of name in dirfd, and its stat.
  Fd OpenPath(int dirfd, const char* name, struct stat* st) {
    Fd fd(openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC));
    EXPECT_TRUE(fd.valid()) << name;
    EXPECT_EQ(fstatat(fd.get(), "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW), 0);
    return fd;
  }

  std::string dir_;
};

TEST_F(TempTree, InternDeduplicatesAndForgetCounts) {
  struct stat rst;
  Fd root(open(dir_.c_str(), O_PATH | O_DIRECTORY));
  ASSERT_EQ(fstat(root.get(), &rst), 0);
  InodeTable t(std::move(root), rst);
  EXPECT_EQ(t.size(), 1u);
  struct stat st;
  Inode* a = t.Intern(OpenPath(t.root().fd.get(), "a", &st), st, &t.root(), "a");
  Inode* a2 = t.Intern(OpenPath(t.root().fd.get(), "a", &st), st, &t.root(), "a");
  EXPECT_EQ(a, a2);
  EXPECT_EQ(t.size(), 2u);
  EXPECT_TRUE(a->is_dir());
  t.Forget(a, 1);
  EXPECT_EQ(t.size(), 2u);  // one reference left
  t.Forget(a, 1);
  EXPECT_EQ(t.size(), 1u);
  t.Forget(&t.root(), 100);  // the root is never dropped
  EXPECT_EQ(t.size(), 1u);
}

TEST_F(TempTree, PathsFollowRenamesAndUnlinks) {
  struct stat rst, st;
  Fd root(open(dir_.c_str(), O_PATH | O_DIRECTORY));
  ASSERT_EQ(fstat(root.get(), &rst), 0);
  InodeTable t(std::move(root), rst);
  EXPECT_EQ(t.PathOf(&t.root()).value(), "/");
  Inode* a = t.Intern(OpenPath(t.root().fd.get(), "a", &st), st, &t.root(), "a");
  Inode* b = t.Intern(OpenPath(a->fd.get(), "b", &st), st, a, "b");
  Inode* f = t.Intern(OpenPath(b->fd.get(), "file", &st), st, b, "file");
  EXPECT_EQ(t.PathOf(f).value(), "/a/b/file");
  // The same inode seen through its other hard link: both names are kept, the first stays first.
  Inode* h = t.Intern(OpenPath(a->fd.get(), "hard", &st), st, a, "hard");
  EXPECT_EQ(h, f);
  auto set = t.Paths(f);
  EXPECT_TRUE(set.complete);
  EXPECT_EQ(set.paths, (std::vector<std::string>{"/a/b/file", "/a/hard"}));
  t.Moved(f->key, b, "file", b, "renamed\nname");
  EXPECT_EQ(t.Paths(f).paths, (std::vector<std::string>{"/a/hard", "/a/b/renamed\nname"}));
  t.Unlinked(f->key, a, "not-its-name");  // a different name: no change
  EXPECT_EQ(t.Paths(f).paths.size(), 2u);
  t.Unlinked(f->key, a, "hard");  // the other name stays known
  EXPECT_EQ(t.PathOf(f).value(), "/a/b/renamed\nname");
  t.Unlinked(f->key, b, "renamed\nname");
  EXPECT_FALSE(t.PathOf(f).has_value());
  t.Linked(f->key, b, "file");
  EXPECT_EQ(t.PathOf(f).value(), "/a/b/file");
  // A parent the kernel forgot: the path is unknown (and the set incomplete), not wrong.
  Inode* b2 = t.Intern(OpenPath(a->fd.get(), "b", &st), st, a, "b");
  ASSERT_EQ(b2, b);
  t.Forget(b, 2);
  EXPECT_FALSE(t.PathOf(f).has_value());
  EXPECT_FALSE(t.Paths(f).complete);
  Inode* f2 = t.Intern(OpenPath(t.root().fd.get(), "a", &st), st, &t.root(), "a");
  EXPECT_EQ(f2, a);
  t.Linked(f->key, a, "x");
  EXPECT_EQ(t.PathOf(f).value(), "/a/x");
  EXPECT_FALSE(t.Paths(f).complete);
}

TEST_F(TempTree, TooManyNamesMarkTheSetIncomplete) {
  struct stat rst, st;
  Fd root(open(dir_.c_str(), O_PATH | O_DIRECTORY));
  ASSERT_EQ(fstat(root.get(), &rst), 0);
  InodeTable t(std::move(root), rst);
  Inode* a = t.Intern(OpenPath(t.root().fd.get(), "a", &st), st, &t.root(), "a");
  Inode* f = t.Intern(OpenPath(a->fd.get(), "hard", &st), st, a, "hard");
  for (size_t i = 1; i < InodeTable::kMaxNames; ++i) t.Linked(f->key, a, "n" + std::to_string(i));
  EXPECT_TRUE(t.Paths(f).complete);
  EXPECT_EQ(t.Paths(f).paths.size(), InodeTable::kMaxNames);
  t.Linked(f->key, a, "hard");  // already known: no change
  EXPECT_TRUE(t.Paths(f).complete);
  t.Linked(f->key, a, "one-too-many");
  EXPECT_FALSE(t.Paths(f).complete);
  EXPECT_EQ(t.Paths(f).paths.size(), InodeTable::kMaxNames);
}

class FakeGate : public Gate {
 public:
  Status CheckOpen(const OpenRequest&, OpenTicket*) override { return Status::Ok(); }
  Status CheckRead(const OpenTicket&, uint64_t, std::span<const uint8_t>) override {
    return Status::Ok();
  }
  void Changed(uint64_t dev, uint64_t ino) override {
    std::lock_guard lock(mu);
    changed.push_back({dev, ino});
  }
  void WriterClosed(uint64_t, uint64_t, const std::string&,
                    const std::function<Result<Fd>()>&) override {}
  bool verify_blocks() const override { return false; }
  std::mutex mu;
  std::vector<InodeKey> changed;
};

TEST_F(TempTree, ChangedReachesTheGate) {
  struct stat rst;
  Fd root(open(dir_.c_str(), O_PATH | O_DIRECTORY));
  ASSERT_EQ(fstat(root.get(), &rst), 0);
  FakeGate gate;
  FsConfig cfg;
  cfg.gate = &gate;
  cfg.workers = 0;
  Passthrough fs(std::move(root), rst, cfg);
  ASSERT_TRUE(fs.Start().ok());
  fs.ChangedKey({1, 2});
  fs.Changed(fs.inodes().root());
  fs.Stop();
  ASSERT_EQ(gate.changed.size(), 2u);
  EXPECT_EQ(gate.changed[0], (InodeKey{1, 2}));
  EXPECT_EQ(gate.changed[1], fs.inodes().root().key);
  EXPECT_EQ(fs.Reopen(fs.inodes().root(), O_RDONLY | O_DIRECTORY) >= 0, true);
}

TEST_F(TempTree, LookupRefusesDotDotAndSlash) {
  struct stat rst;
  Fd root(open(dir_.c_str(), O_PATH | O_DIRECTORY));
  ASSERT_EQ(fstat(root.get(), &rst), 0);
  Passthrough fs(std::move(root), rst, FsConfig{});
  fuse_entry_param e;
  EXPECT_EQ(fs.DoLookup(fs.inodes().root(), "..", &e), EINVAL);
  EXPECT_EQ(fs.DoLookup(fs.inodes().root(), "a/b", &e), EINVAL);
  EXPECT_EQ(fs.DoLookup(fs.inodes().root(), "missing", &e), ENOENT);
  EXPECT_EQ(fs.DoLookup(fs.inodes().root(), "a", &e), 0);
  EXPECT_TRUE(S_ISDIR(e.attr.st_mode));
  EXPECT_EQ(fs.inodes().size(), 2u);
}

}  // namespace
}  // namespace dfs::fs
