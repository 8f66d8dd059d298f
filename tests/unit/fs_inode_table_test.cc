// Unit tests for fs/inode_table.h (lookup references, dedup by (dev, ino), best-effort paths) and
// for the Gate change notifications of fs/passthrough.h, with a fake Gate.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
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
  Inode* a = t.Intern(OpenPath(t.Lower(t.root()).get(), "a", &st), st, &t.root(), "a");
  Inode* a2 = t.Intern(OpenPath(t.Lower(t.root()).get(), "a", &st), st, &t.root(), "a");
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
  Inode* a = t.Intern(OpenPath(t.Lower(t.root()).get(), "a", &st), st, &t.root(), "a");
  Inode* b = t.Intern(OpenPath(t.Lower(*a).get(), "b", &st), st, a, "b");
  Inode* f = t.Intern(OpenPath(t.Lower(*b).get(), "file", &st), st, b, "file");
  EXPECT_EQ(t.PathOf(f).value(), "/a/b/file");
  // The same inode seen through its other hard link: both names are kept, the first stays first.
  Inode* h = t.Intern(OpenPath(t.Lower(*a).get(), "hard", &st), st, a, "hard");
  EXPECT_EQ(h, f);
  auto set = t.Paths(f);
  EXPECT_TRUE(set.complete);
  EXPECT_EQ(set.paths, (std::vector<std::string>{"/a/b/file", "/a/hard"}));
  ASSERT_EQ(rename((dir_ + "/a/b/file").c_str(), (dir_ + "/a/b/renamed\nname").c_str()), 0);
  t.Moved(f->key, b, "file", b, "renamed\nname");
  EXPECT_EQ(t.Paths(f).paths, (std::vector<std::string>{"/a/hard", "/a/b/renamed\nname"}));
  t.Unlinked(f->key, a, "not-its-name");  // a different name: no change
  EXPECT_EQ(t.Paths(f).paths.size(), 2u);
  ASSERT_EQ(unlink((dir_ + "/a/hard").c_str()), 0);
  t.Unlinked(f->key, a, "hard");  // the other name stays known
  EXPECT_EQ(t.PathOf(f).value(), "/a/b/renamed\nname");
  t.Unlinked(f->key, b, "renamed\nname");
  EXPECT_FALSE(t.PathOf(f).has_value());
  ASSERT_EQ(rename((dir_ + "/a/b/renamed\nname").c_str(), (dir_ + "/a/b/file").c_str()), 0);
  t.Linked(f->key, b, "file");
  EXPECT_EQ(t.PathOf(f).value(), "/a/b/file");
  EXPECT_TRUE(t.Paths(f).complete);
  // A parent the kernel forgot: the path is unknown (and the set incomplete), not wrong.
  Inode* b2 = t.Intern(OpenPath(t.Lower(*a).get(), "b", &st), st, a, "b");
  ASSERT_EQ(b2, b);
  t.Forget(b, 2);
  EXPECT_FALSE(t.PathOf(f).has_value());
  EXPECT_FALSE(t.Paths(f).complete);
  Inode* f2 = t.Intern(OpenPath(t.Lower(t.root()).get(), "a", &st), st, &t.root(), "a");
  EXPECT_EQ(f2, a);
  ASSERT_EQ(link((dir_ + "/a/b/file").c_str(), (dir_ + "/a/x").c_str()), 0);
  t.Linked(f->key, a, "x");
  EXPECT_EQ(t.PathOf(f).value(), "/a/x");
  EXPECT_FALSE(t.Paths(f).complete);
}

// Issue 14, bypass 2: a directory moved beneath the mount. Its files' paths are the true ones
// (the directory's path now, not the name it was first seen by); a name that no longer leads to
// the file is only a candidate and makes the set incomplete.
TEST_F(TempTree, PathsAreTrueAfterMovesBeneath) {
  struct stat rst, st;
  Fd root(open(dir_.c_str(), O_PATH | O_DIRECTORY));
  ASSERT_EQ(fstat(root.get(), &rst), 0);
  InodeTable t(std::move(root), rst);
  Inode* a = t.Intern(OpenPath(t.Lower(t.root()).get(), "a", &st), st, &t.root(), "a");
  Inode* b = t.Intern(OpenPath(t.Lower(*a).get(), "b", &st), st, a, "b");
  ASSERT_EQ(unlink((dir_ + "/a/hard").c_str()), 0);
  Inode* f = t.Intern(OpenPath(t.Lower(*b).get(), "file", &st), st, b, "file");
  ASSERT_EQ(t.PathOf(f).value(), "/a/b/file");
  // a/b moved to /usr/local/lib/d beneath the mount: the table is not told.
  std::filesystem::create_directories(dir_ + "/usr/local/lib");
  ASSERT_EQ(rename((dir_ + "/a/b").c_str(), (dir_ + "/usr/local/lib/d").c_str()), 0);
  auto set = t.Paths(f);
  EXPECT_TRUE(set.complete);
  EXPECT_EQ(set.paths, (std::vector<std::string>{"/usr/local/lib/d/file"}));
  // The same directory later looked up by its new name: still one path.
  t.Linked(b->key, a, "unused");
  EXPECT_EQ(t.Paths(f).paths, (std::vector<std::string>{"/usr/local/lib/d/file"}));
  // The file itself renamed beneath: its known name is stale, no name is verified.
  ASSERT_EQ(
      rename((dir_ + "/usr/local/lib/d/file").c_str(), (dir_ + "/usr/local/lib/d/other").c_str()),
      0);
  set = t.Paths(f);
  EXPECT_FALSE(set.complete);
  EXPECT_EQ(set.paths, (std::vector<std::string>{"/usr/local/lib/d/file"}));
  // Looked up by its new name: a single-link file with one verified name has only that path.
  t.Linked(f->key, b, "other");
  set = t.Paths(f);
  EXPECT_TRUE(set.complete);
  EXPECT_EQ(set.paths, (std::vector<std::string>{"/usr/local/lib/d/other"}));
  // The directory moved out of the lower tree: no path can be trusted.
  std::string outside = dir_ + ".outside";
  ASSERT_EQ(rename((dir_ + "/usr/local/lib/d").c_str(), outside.c_str()), 0);
  set = t.Paths(f);
  EXPECT_FALSE(set.complete);
  EXPECT_TRUE(set.paths.empty());
  std::filesystem::remove_all(outside);
}

// Directory paths come from getcwd(2) in the serving thread's own fs_struct (fchdir there and
// back): the thread's and the process's working directories are unchanged afterwards, in this
// thread and in a fresh one; a path longer than PATH_MAX is still found (walking up); a file in a
// directory removed beneath has no path.
TEST_F(TempTree, DirectoryPathsDeepDeletedAndWorkingDirectoryKept) {
  struct stat rst, st;
  Fd root(open(dir_.c_str(), O_PATH | O_DIRECTORY));
  ASSERT_EQ(fstat(root.get(), &rst), 0);
  InodeTable t(std::move(root), rst);
  char before[PATH_MAX];
  ASSERT_NE(getcwd(before, sizeof before), nullptr);
  Inode* a = t.Intern(OpenPath(t.Lower(t.root()).get(), "a", &st), st, &t.root(), "a");
  Inode* b = t.Intern(OpenPath(t.Lower(*a).get(), "b", &st), st, a, "b");
  Inode* f = t.Intern(OpenPath(t.Lower(*b).get(), "file", &st), st, b, "file");
  EXPECT_EQ(t.Paths(f).paths, (std::vector<std::string>{"/a/b/file"}));
  char after[PATH_MAX];
  ASSERT_NE(getcwd(after, sizeof after), nullptr);
  EXPECT_STREQ(after, before);
  std::vector<std::string> in_thread;
  std::string thread_cwd;
  std::thread([&] {
    in_thread = t.Paths(f).paths;
    char c[PATH_MAX];
    if (getcwd(c, sizeof c) != nullptr) thread_cwd = c;
  }).join();
  EXPECT_EQ(in_thread, (std::vector<std::string>{"/a/b/file"}));
  EXPECT_EQ(thread_cwd, before);
  ASSERT_NE(getcwd(after, sizeof after), nullptr);
  EXPECT_STREQ(after, before);

  // 24 levels of 200-character names: about 4,800 characters, beyond PATH_MAX.
  const std::string part(200, 'd');
  Inode* dir = a;
  std::string expect = "/a";
  for (int i = 0; i < 24; ++i) {
    ASSERT_EQ(mkdirat(t.Lower(*dir).get(), part.c_str(), 0755), 0);
    dir = t.Intern(OpenPath(t.Lower(*dir).get(), part.c_str(), &st), st, dir, part);
    expect += "/" + part;
  }
  {
    Fd fd(openat(t.Lower(*dir).get(), "deep", O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
    ASSERT_TRUE(fd.valid());
  }
  Inode* deep = t.Intern(OpenPath(t.Lower(*dir).get(), "deep", &st), st, dir, "deep");
  auto set = t.Paths(deep);
  EXPECT_TRUE(set.complete);
  EXPECT_EQ(set.paths, (std::vector<std::string>{expect + "/deep"}));

  // A file whose directory was removed beneath: no path (its name is gone with it).
  ASSERT_EQ(mkdir((dir_ + "/gone").c_str(), 0755), 0);
  Inode* g = t.Intern(OpenPath(t.Lower(t.root()).get(), "gone", &st), st, &t.root(), "gone");
  {
    Fd fd(openat(t.Lower(*g).get(), "x", O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
    ASSERT_TRUE(fd.valid());
  }
  Inode* x = t.Intern(OpenPath(t.Lower(*g).get(), "x", &st), st, g, "x");
  ASSERT_EQ(unlink((dir_ + "/gone/x").c_str()), 0);
  ASSERT_EQ(rmdir((dir_ + "/gone").c_str()), 0);
  set = t.Paths(x);
  EXPECT_FALSE(set.complete);
  EXPECT_TRUE(set.paths.empty());
  ASSERT_NE(getcwd(after, sizeof after), nullptr);
  EXPECT_STREQ(after, before);
}

// Issue 15, item 1: with handles enabled the table keeps at most `capacity` descriptors open,
// whatever the number of inodes, and reopens exactly the inode looked up.
TEST_F(TempTree, DescriptorsAreBoundedAndReopenedFromHandles) {
  if (geteuid() != 0) GTEST_SKIP() << "open_by_handle_at needs CAP_DAC_READ_SEARCH";
  struct stat rst, st;
  Fd root(open(dir_.c_str(), O_PATH | O_DIRECTORY));
  ASSERT_EQ(fstat(root.get(), &rst), 0);
  InodeTable t(std::move(root), rst);
  t.EnableHandles(4);
  for (int i = 0; i < 50; ++i) {
    close(open((dir_ + "/a/f" + std::to_string(i)).c_str(), O_CREAT | O_WRONLY, 0644));
  }
  Inode* a = t.Intern(OpenPath(t.Lower(t.root()).get(), "a", &st), st, &t.root(), "a");
  std::vector<Inode*> files;
  std::vector<ino_t> inos;
  for (int i = 0; i < 50; ++i) {
    std::string name = "f" + std::to_string(i);
    PathFd dir = t.Lower(*a);
    ASSERT_TRUE(dir);
    files.push_back(t.Intern(OpenPath(dir.get(), name.c_str(), &st), st, a, name));
    inos.push_back(st.st_ino);
  }
  EXPECT_LE(t.fd_stats().cached, 4u);
  EXPECT_EQ(t.fd_stats().pinned, 1u);  // the root
  for (int i = 0; i < 50; ++i) {
    PathFd fd = t.Lower(*files[i]);
    ASSERT_TRUE(fd) << i;
    ASSERT_EQ(fstatat(fd.get(), "", &st, AT_EMPTY_PATH), 0);
    EXPECT_EQ(st.st_ino, inos[i]);
    EXPECT_EQ(t.PathOf(files[i]).value(), "/a/f" + std::to_string(i));
  }
  EXPECT_LE(t.fd_stats().cached, 4u);
  // A leased descriptor stays open after its eviction.
  PathFd held = t.Lower(*files[0]);
  for (int i = 1; i < 10; ++i) t.Lower(*files[i]);
  ASSERT_EQ(fstatat(held.get(), "", &st, AT_EMPTY_PATH), 0);
  EXPECT_EQ(st.st_ino, inos[0]);
  // Deleted and gone: the handle no longer opens (never another object).
  held = PathFd();
  for (int i = 1; i < 10; ++i) t.Lower(*files[i]);
  ASSERT_EQ(unlink((dir_ + "/a/f0").c_str()), 0);
  PathFd gone = t.Lower(*files[0]);
  if (gone) {
    // The kernel may still cache the unlinked inode; it is then the same one, with no link.
    ASSERT_EQ(fstatat(gone.get(), "", &st, AT_EMPTY_PATH), 0);
    EXPECT_EQ(st.st_ino, inos[0]);
    EXPECT_EQ(st.st_nlink, 0u);
  } else {
    EXPECT_EQ(gone.error(), ENOENT);
  }
}

// Open descriptors of this process.
size_t OpenDescriptors() {
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    (void)e;
    ++n;
  }
  return n;
}

TEST_F(TempTree, SheddingClosesDescriptorsNothingElseLeases) {
  if (geteuid() != 0) GTEST_SKIP() << "open_by_handle_at needs CAP_DAC_READ_SEARCH";
  struct stat rst, st;
  Fd root(open(dir_.c_str(), O_PATH | O_DIRECTORY));
  ASSERT_EQ(fstat(root.get(), &rst), 0);
  InodeTable t(std::move(root), rst);
  t.EnableHandles(16);
  for (int i = 0; i < 10; ++i) {
    close(open((dir_ + "/a/s" + std::to_string(i)).c_str(), O_CREAT | O_WRONLY, 0644));
  }
  Inode* a = t.Intern(OpenPath(t.Lower(t.root()).get(), "a", &st), st, &t.root(), "a");
  std::vector<Inode*> files;
  for (int i = 0; i < 10; ++i) {
    std::string name = "s" + std::to_string(i);
    PathFd dir = t.Lower(*a);
    ASSERT_TRUE(dir);
    files.push_back(t.Intern(OpenPath(dir.get(), name.c_str(), &st), st, a, name));
  }
  // Least recently used first: the directory a (not leased), the files s0-s5 (leased, as open
  // files lease theirs), s6-s9 (not leased). Halving the cache by count would close only a.
  std::vector<PathFd> leases;
  for (int i = 0; i < 6; ++i) leases.push_back(t.Lower(*files[i]));
  for (int i = 6; i < 10; ++i) t.Lower(*files[i]);
  const size_t before = OpenDescriptors();
  t.ShedDescriptors();
  EXPECT_EQ(OpenDescriptors(), before - 3) << "the older half of five unleased: a, s6, s7";
  EXPECT_EQ(t.fd_stats().cached, 2u) << "s8 and s9 left; the leased ones left the cache";
  // The leases still work; once they end, their descriptors close too.
  for (auto& l : leases) ASSERT_EQ(fstatat(l.get(), "", &st, AT_EMPTY_PATH), 0);
  leases.clear();
  EXPECT_EQ(OpenDescriptors(), before - 3 - 6);
  // Every file is still reached through its handle.
  for (Inode* f : files) EXPECT_TRUE(t.Lower(*f));
}

TEST_F(TempTree, TooManyNamesMarkTheSetIncomplete) {
  struct stat rst, st;
  Fd root(open(dir_.c_str(), O_PATH | O_DIRECTORY));
  ASSERT_EQ(fstat(root.get(), &rst), 0);
  InodeTable t(std::move(root), rst);
  Inode* a = t.Intern(OpenPath(t.Lower(t.root()).get(), "a", &st), st, &t.root(), "a");
  Inode* f = t.Intern(OpenPath(t.Lower(*a).get(), "hard", &st), st, a, "hard");
  for (size_t i = 1; i < InodeTable::kMaxNames; ++i) {
    ASSERT_EQ(link((dir_ + "/a/hard").c_str(), (dir_ + "/a/n" + std::to_string(i)).c_str()), 0);
    t.Linked(f->key, a, "n" + std::to_string(i));
  }
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
  Status CheckNode(const OpenRequest&) override { return Status::Ok(); }
  Status CheckRead(const OpenTicket&, uint64_t, std::span<const uint8_t>) override {
    return Status::Ok();
  }
  void Changed(uint64_t dev, uint64_t ino) override {
    std::lock_guard lock(mu);
    changed.push_back({dev, ino});
  }
  void WriterClosed(uint64_t, uint64_t, const std::string&, const std::function<Result<Fd>()>&,
                    const std::function<bool()>&) override {}
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
  EXPECT_EQ(fs.DoLookup(nullptr, fs.inodes().root(), "..", &e), EINVAL);
  EXPECT_EQ(fs.DoLookup(nullptr, fs.inodes().root(), "a/b", &e), EINVAL);
  EXPECT_EQ(fs.DoLookup(nullptr, fs.inodes().root(), "missing", &e), ENOENT);
  EXPECT_EQ(fs.DoLookup(nullptr, fs.inodes().root(), "a", &e), 0);
  EXPECT_TRUE(S_ISDIR(e.attr.st_mode));
  EXPECT_EQ(fs.inodes().size(), 2u);
}

}  // namespace
}  // namespace dfs::fs
