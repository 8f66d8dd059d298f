// Unit tests for fs/lower_xattr.h: the relative form (Linux 6.13's *xattrat() calls relative to
// /proc/self/fd) answers every read exactly as the classic form (a path through /proc/self/fd from
// the root), acts on the inode held (not on whatever its name leads to later), and on a symlink
// itself; it is chosen where the calls work, and not under a seccomp filter that refuses them.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
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

#if defined(__x86_64__) && !defined(__ILP32__)
constexpr long kGetxattratNr = 464;  // the test's own copy: an oracle, not the code under test
constexpr long kListxattratNr = 465;
#else
constexpr long kGetxattratNr = -1;
constexpr long kListxattratNr = -1;
#endif

// Whether getxattrat(2) relative to /proc/self/fd reads `name` of the file behind `fd` as `want`.
bool XattratWorks(int proc_fd, int fd, const char* name, const std::string& want) {
  if (kGetxattratNr < 0) return false;
  char buf[64];
  struct {
    uint64_t value;
    uint32_t size;
    uint32_t flags;
  } args{reinterpret_cast<uintptr_t>(buf), sizeof buf, 0};
  std::string num = std::to_string(fd);
  long n = syscall(kGetxattratNr, proc_fd, num.c_str(), 0, name, &args, sizeof args);
  return n >= 0 && std::string(buf, static_cast<size_t>(n)) == want;
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
    Fd f = PathOf("/f");
    usable_ = XattratWorks(proc_.get(), f.get(), "user.a", "value-a");
  }
  // The comparisons below are of the relative form: without it they would compare the classic
  // form with itself.
  void NeedRelative() {
    if (!relative_.relative()) {
      GTEST_SKIP() << "SKIPPED: getxattrat(2) is not usable here (kernel before 6.13, another "
                      "architecture, or a seccomp filter)";
    }
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
  bool usable_ = false;
};

TEST_F(LowerXattrTest, RelativeFormIsChosenWhereItWorks) {
  EXPECT_EQ(relative_.relative(), usable_);
  EXPECT_FALSE(classic_.relative());
  LowerXattr unprobed;
  unprobed.Init(proc_.get(), -1);  // nothing to probe: the classic form
  EXPECT_FALSE(unprobed.relative());
}

TEST_F(LowerXattrTest, BothFormsAnswerEveryReadAlike) {
  NeedRelative();
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
  NeedRelative();
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

// A filter that refuses the new calls with EPERM (as container runtimes' default profiles do for
// calls they do not know): the probe keeps the classic form, and reads still work. In a child
// process (a filter cannot be removed); its exit code says what it saw.
TEST_F(LowerXattrTest, RefusedBySeccompTheClassicFormIsKept) {
#if defined(__x86_64__) && !defined(__ILP32__)
  Fd f = PathOf("/f");
  auto child = [&](bool filter) -> int {
    pid_t pid = fork();
    if (pid == 0) {
      if (filter) {
        struct sock_filter code[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kGetxattratNr, 2, 0),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kListxattratNr, 1, 0),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        };
        struct sock_fprog prog = {static_cast<unsigned short>(sizeof code / sizeof code[0]), code};
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(10);
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) _exit(11);
      }
      LowerXattr x;
      x.Init(proc_.get(), root_.get());
      char buf[16];
      ssize_t n = x.Get(f.get(), "user.a", buf, sizeof buf);
      if (n != 7 || std::string(buf, 7) != "value-a") _exit(12);
      _exit(x.relative() ? 1 : 0);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
  };
  EXPECT_EQ(child(true), 0)
      << "1: the relative form was chosen under the filter; 12: a read failed";
  EXPECT_EQ(child(false), usable_ ? 1 : 0);
#else
  GTEST_SKIP() << "SKIPPED: the seccomp filter of this test is written for x86-64";
#endif
}

TEST_F(LowerXattrTest, NotADescriptorAnswersAsTheClassicForm) {
  NeedRelative();
  // A descriptor number that is not open: both forms say ENOENT (no such magic link).
  Answer r = Get(relative_, 987654, "user.a", 16);
  Answer k = Get(classic_, 987654, "user.a", 16);
  EXPECT_EQ(r, k);
  EXPECT_EQ(r.err, ENOENT);
}

}  // namespace
}  // namespace dfs::fs
