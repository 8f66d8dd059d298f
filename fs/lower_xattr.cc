// fs/lower_xattr.cc: see lower_xattr.h.
#include "fs/lower_xattr.h"

#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <vector>

namespace dfs::fs {

namespace {

// Linux 6.13's getxattrat and listxattrat in the syscall table that x86-64, i386, arm64, arm,
// riscv and loongarch share from number 424 on; elsewhere only the classic form is used.
#if (defined(__x86_64__) && !defined(__ILP32__)) || defined(__i386__) || defined(__aarch64__) || \
    defined(__arm__) || defined(__riscv) || defined(__loongarch__)
constexpr long kGetxattrat = 464;
constexpr long kListxattrat = 465;
constexpr bool kHaveNumbers = true;
#else
constexpr long kGetxattrat = -1;
constexpr long kListxattrat = -1;
constexpr bool kHaveNumbers = false;
#endif

// struct xattr_args of the kernel's uapi (linux/xattr.h, 6.13): the value buffer and its size.
struct XattrArgs {
  uint64_t value;
  uint32_t size;
  uint32_t flags;  // 0 for getxattrat
};

struct ProcPath {
  char buf[32];
  explicit ProcPath(int fd) { snprintf(buf, sizeof buf, "/proc/self/fd/%d", fd); }
};

struct FdName {
  char buf[16];
  explicit FdName(int fd) { snprintf(buf, sizeof buf, "%d", fd); }
};

ssize_t GetClassic(int fd, const char* name, void* value, size_t size) {
  return ::getxattr(ProcPath(fd).buf, name, value, size);
}

ssize_t GetRelative(int proc_fd, int fd, const char* name, void* value, size_t size) {
  XattrArgs args{reinterpret_cast<uintptr_t>(value), static_cast<uint32_t>(size), 0};
  // at_flags 0: the magic link "N" is followed (to the held inode, and no further).
  return syscall(kGetxattrat, proc_fd, FdName(fd).buf, 0, name, &args, sizeof args);
}

ssize_t ListClassic(int fd, char* list, size_t size) {
  return ::listxattr(ProcPath(fd).buf, list, size);
}

ssize_t ListRelative(int proc_fd, int fd, char* list, size_t size) {
  return syscall(kListxattrat, proc_fd, FdName(fd).buf, 0, list, size);
}

// Both forms' answer to the same call: equal results and, on failure, equal errno; and the
// relative form not refused outright (ENOSYS: an older kernel; EPERM: a seccomp filter that does
// not know the call, even where the classic form happens to be refused too).
template <typename A, typename B>
bool SameAnswer(A classic, B relative) {
  errno = 0;
  ssize_t a = classic();
  int ea = errno;
  errno = 0;
  ssize_t b = relative();
  int eb = errno;
  if (b < 0 && (eb == ENOSYS || eb == EPERM)) return false;
  return a == b && (a >= 0 || ea == eb);
}

}  // namespace

void LowerXattr::Init(int proc_self_fd, int probe_fd, bool prefer_relative) {
  proc_fd_ = proc_self_fd;
  relative_ = false;
  if (!prefer_relative || !kHaveNumbers || proc_self_fd < 0 || probe_fd < 0) return;
  // A size query and a read of an attribute no one sets, and the list (size and bytes): nothing
  // is written.
  const char* probe = "user.digestfs.probe";
  char va[64], vb[64];
  relative_ = SameAnswer([&] { return GetClassic(probe_fd, probe, nullptr, 0); },
                         [&] { return GetRelative(proc_self_fd, probe_fd, probe, nullptr, 0); }) &&
              SameAnswer([&] { return GetClassic(probe_fd, probe, va, sizeof va); },
                         [&] { return GetRelative(proc_self_fd, probe_fd, probe, vb, sizeof vb); });
  if (!relative_) return;
  errno = 0;
  ssize_t size = ListClassic(probe_fd, nullptr, 0);
  if (size < 0 || size > 65536) {
    relative_ = SameAnswer([&] { return ListClassic(probe_fd, nullptr, 0); },
                           [&] { return ListRelative(proc_self_fd, probe_fd, nullptr, 0); });
    return;
  }
  // Room for a list that grows in between; the two lists must be the same bytes.
  std::vector<char> la(static_cast<size_t>(size) + 256), lb(la.size());
  ssize_t na = ListClassic(probe_fd, la.data(), la.size());
  ssize_t nb = ListRelative(proc_self_fd, probe_fd, lb.data(), lb.size());
  relative_ = na >= 0 && na == nb && std::equal(la.begin(), la.begin() + na, lb.begin());
}

ssize_t LowerXattr::Get(int fd, const char* name, void* value, size_t size) const {
  return relative_ ? GetRelative(proc_fd_, fd, name, value, size)
                   : GetClassic(fd, name, value, size);
}

ssize_t LowerXattr::List(int fd, char* list, size_t size) const {
  return relative_ ? ListRelative(proc_fd_, fd, list, size) : ListClassic(fd, list, size);
}

int LowerXattr::Set(int fd, const char* name, const void* value, size_t size, int flags) const {
  return ::setxattr(ProcPath(fd).buf, name, value, size, flags);
}

int LowerXattr::Remove(int fd, const char* name) const {
  return ::removexattr(ProcPath(fd).buf, name);
}

}  // namespace dfs::fs
