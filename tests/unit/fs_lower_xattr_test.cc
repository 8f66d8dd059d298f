// Unit tests for fs/lower_xattr.h: the relative form (Linux 6.13's *xattrat() calls relative to
// /proc/self/fd) answers every read exactly as the classic form (a path through /proc/self/fd from
// the root), acts on the inode held (not on whatever its name leads to later), and on a symlink
// itself; it is chosen on kernels that have the calls.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "common/fd.h"
#include "fs/lower_xattr.h"

namespace dfs::fs {
namespace {

// What one call gave: its result and, on failure, errno; and the bytes it returned.
struct Answer {
  ssize_t n;
  int err;
  std::string bytes;
  bool operator==(const Answer& o) const {
    return n == o.n && (n >= 0 || err == o.err) && bytes == o.bytes;
  }
};

std::ostream& operator<<(std::ostream& os, const Answer& a) {
  return os << "n=" << a.n << " errno=" << (a.n < 0 ? a.err : 0) << " bytes=" << a.bytes.size();
}

bool KernelHasXattrat() {
  struct utsname u;
  if (uname(&u) != 0) return false;
  int major = 0, minor = 0;
  if (sscanf(u.release, "%d.%d", &major, &minor) != 2) return false;
  return major > 6 || (major == 6 && minor >= 13);
}

class LowerXattrTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/var/tmp/fs_lower_xattr_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::filesystem::create_directories(dir_ + "/d");
    Write("/f");
    Write("/other");
    ASSERT_EQ(symlink("f", (dir_ + "/link").c_str()), 0);
    if (setxattr((dir_ + "/f").c_str(), "user.a", "value-a", 7, 0) != 0) {
      GTEST_SKIP() << "SKIPPED: " << dir_ << " has no user.* xattrs (" << strerror(errno) << ")";
    }
    ASSERT_EQ(setxattr((dir_ + "/f").c_str(), "user.b", "b", 1, 0), 0);
    ASSERT_EQ(setxattr((dir_ + "/d").c_str(), "user.dir", "dv", 2, 0), 0);
    ASSERT_EQ(setxattr((dir_ + "/other").c_str(), "user.a", "other", 5, 0), 0);
    proc_.reset(open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(proc_.valid());
    root_.reset(open(dir_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(root_.valid());
    relative_.Init(proc_.get(), root_.get());
    classic_.Init(proc_.get(), root_.get(), /*prefer_relative=*/false);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void Write(const std::string& name) {
    Fd fd(open((dir_ + name).c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
    ASSERT_TRUE(fd.valid());
  }
  Fd PathOf(const std::string& name) {
    Fd fd(open((dir_ + name).c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    EXPECT_TRUE(fd.valid()) << name;
    return fd;
  }
  static Answer Get(const LowerXattr& x, int fd, const char* name, size_t size) {
    std::vector<char> buf(size);
    errno = 0;
    ssize_t n = x.Get(fd, name, size ? buf.data() : nullptr, size);
    Answer a{n, errno, {}};
    if (n > 0 && size > 0) a.bytes.assign(buf.data(), static_cast<size_t>(n));
    return a;
  }
  static Answer List(const LowerXattr& x, int fd, size_t size) {
    std::vector<char> buf(size);
    errno = 0;
    ssize_t n = x.List(fd, size ? buf.data() : nullptr, size);
    Answer a{n, errno, {}};
    if (n > 0 && size > 0) a.bytes.assign(buf.data(), static_cast<size_t>(n));
    return a;
  }

  std::string dir_;
  Fd proc_, root_;
  LowerXattr relative_, classic_;
};

TEST_F(LowerXattrTest, RelativeFormIsChosenWhereTheKernelHasIt) {
  EXPECT_EQ(relative_.relative(), KernelHasXattrat());
  EXPECT_FALSE(classic_.relative());
  LowerXattr unprobed;
  unprobed.Init(proc_.get(), -1);  // nothing to probe: the classic form
  EXPECT_FALSE(unprobed.relative());
}

TEST_F(LowerXattrTest, BothFormsAnswerEveryReadAlike) {
  struct Case {
    const char* path;
    const char* name;
    size_t size;
  };
  const Case cases[] = {
      {"/f", "user.a", 256},        // a value
      {"/f", "user.a", 0},          // its size
      {"/f", "user.a", 3},          // buffer too small: ERANGE
      {"/f", "user.missing", 256},  // ENODATA
      {"/f", "bogus.ns", 256},      // EOPNOTSUPP
      {"/d", "user.dir", 256},      // a directory's
      {"/link", "user.a", 256},     // the symlink's own (none): not its target's
      {"/link", "security.selinux", 256},
      {"/f", "system.posix_acl_access", 256},
  };
  for (const Case& c : cases) {
    Fd fd = PathOf(c.path);
    Answer r = Get(relative_, fd.get(), c.name, c.size);
    Answer k = Get(classic_, fd.get(), c.name, c.size);
    EXPECT_EQ(r, k) << c.path << " " << c.name << " size " << c.size;
  }
  for (const char* p : {"/f", "/d", "/link"}) {
    Fd fd = PathOf(p);
    for (size_t size : {size_t{0}, size_t{4}, size_t{256}}) {
      EXPECT_EQ(List(relative_, fd.get(), size), List(classic_, fd.get(), size))
          << p << " size " << size;
    }
  }
  // The values themselves, not only agreement.
  Fd f = PathOf("/f");
  EXPECT_EQ(Get(relative_, f.get(), "user.a", 256).bytes, "value-a");
  Answer missing = Get(relative_, f.get(), "user.missing", 256);
  EXPECT_EQ(missing.n, -1);
  EXPECT_EQ(missing.err, ENODATA);
  Fd link = PathOf("/link");
  Answer on_link = Get(relative_, link.get(), "user.a", 256);
  EXPECT_EQ(on_link.n, -1) << "read the symlink's target";
}

TEST_F(LowerXattrTest, TheInodeHeldNotWhatItsNameLeadsToLater) {
  Fd fd = PathOf("/f");
  // The name now leads to another file, with another user.a.
  ASSERT_EQ(rename((dir_ + "/f").c_str(), (dir_ + "/moved").c_str()), 0);
  ASSERT_EQ(rename((dir_ + "/other").c_str(), (dir_ + "/f").c_str()), 0);
  EXPECT_EQ(Get(relative_, fd.get(), "user.a", 256).bytes, "value-a");
  EXPECT_EQ(Get(classic_, fd.get(), "user.a", 256).bytes, "value-a");
  // Unlinked, yet held: still readable, as through an open descriptor.
  ASSERT_EQ(unlink((dir_ + "/moved").c_str()), 0);
  EXPECT_EQ(Get(relative_, fd.get(), "user.b", 256).bytes, "b");
}

TEST_F(LowerXattrTest, WritesActOnTheInodeHeld) {
  Fd fd = PathOf("/f");
  ASSERT_EQ(relative_.Set(fd.get(), "user.c", "cc", 2, XATTR_CREATE), 0);
  EXPECT_EQ(relative_.Set(fd.get(), "user.c", "cc", 2, XATTR_CREATE), -1);
  EXPECT_EQ(errno, EEXIST);
  char buf[8];
  EXPECT_EQ(getxattr((dir_ + "/f").c_str(), "user.c", buf, sizeof buf), 2);
  ASSERT_EQ(relative_.Remove(fd.get(), "user.c"), 0);
  EXPECT_EQ(relative_.Remove(fd.get(), "user.c"), -1);
  EXPECT_EQ(errno, ENODATA);
  // user.* on a symlink is refused natively; so it is here.
  Fd link = PathOf("/link");
  EXPECT_EQ(relative_.Set(link.get(), "user.s", "s", 1, 0), -1);
  EXPECT_EQ(errno, EPERM);
}

TEST_F(LowerXattrTest, NotADescriptorAnswersAsTheClassicForm) {
  // A descriptor number that is not open: both forms say ENOENT (no such magic link).
  Answer r = Get(relative_, 987654, "user.a", 16);
  Answer k = Get(classic_, 987654, "user.a", 16);
  EXPECT_EQ(r, k);
  EXPECT_EQ(r.err, ENOENT);
}

}  // namespace
}  // namespace dfs::fs
