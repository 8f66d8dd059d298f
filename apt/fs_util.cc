#include "apt/fs_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace dfs::apt {

Result<Fd> OpenInRoot(int rootfd, const std::string& rel, int flags, const std::string& what) {
  struct open_how how;
  std::memset(&how, 0, sizeof how);
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  std::string p = rel;
  while (!p.empty() && p.front() == '/') p.erase(0, 1);
  if (p.empty()) p = ".";
  long fd;
  do {
    fd = ::syscall(SYS_openat2, rootfd, p.c_str(), &how, sizeof how);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return Status::FromErrno(errno, "open " + what);
  return Fd(static_cast<int>(fd));
}

Result<Fd> OpenFileAt(int dirfd, const std::string& name, const std::string& what) {
  Fd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (!fd) {
    if (errno == ELOOP) return Status(Code::kInvalidArgument, what + ": is a symlink (refused)");
    return Status::FromErrno(errno, "open " + what);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Status::FromErrno(errno, "stat " + what);
  if (!S_ISREG(st.st_mode)) return Status(Code::kInvalidArgument, what + ": not a regular file");
  int fl = ::fcntl(fd.get(), F_GETFL);
  if (fl >= 0) ::fcntl(fd.get(), F_SETFL, fl & ~O_NONBLOCK);
  return fd;
}

Result<std::vector<uint8_t>> ReadAll(int fd, size_t limit, const std::string& what) {
  std::vector<uint8_t> out;
  struct stat st;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) <= limit) {
    out.reserve(static_cast<size_t>(st.st_size));
  }
  std::vector<uint8_t> buf(1 << 20);
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "read " + what);
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > limit) {
      return Status(Code::kInvalidArgument,
                    what + ": larger than " + std::to_string(limit) + " bytes");
    }
    out.insert(out.end(), buf.begin(), buf.begin() + n);
  }
  return out;
}

Result<std::vector<std::string>> ListNames(int dirfd, const std::string& what) {
  int dup = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return Status::FromErrno(errno, "dup " + what);
  if (::lseek(dup, 0, SEEK_SET) != 0) {
    ::close(dup);
    return Status::FromErrno(errno, "rewind " + what);
  }
  DIR* d = ::fdopendir(dup);
  if (d == nullptr) {
    int e = errno;
    ::close(dup);
    return Status::FromErrno(e, "opendir " + what);
  }
  std::vector<std::string> out;
  errno = 0;
  while (struct dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      out.push_back(e->d_name);
    }
  }
  int err = errno;
  ::closedir(d);
  if (err != 0) return Status::FromErrno(err, "readdir " + what);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace dfs::apt
