#include "packaging/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/fd.h"

namespace dfs {

Result<std::vector<uint8_t>> ReadFileLimited(const std::string& path, size_t limit) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return Status::FromErrno(errno, "open " + path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Status::FromErrno(errno, "stat " + path);
  if (!S_ISREG(st.st_mode)) return Status(Code::kInvalidArgument, path + " is not a regular file");
  if (static_cast<uint64_t>(st.st_size) > limit) {
    return Status(Code::kInvalidArgument,
                  path + " is larger than " + std::to_string(limit) + " bytes");
  }
  std::vector<uint8_t> out;
  out.reserve(static_cast<size_t>(st.st_size));
  uint8_t buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "read " + path);
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > limit) {
      return Status(Code::kInvalidArgument, path + " grew beyond " + std::to_string(limit));
    }
    out.insert(out.end(), buf, buf + n);
  }
  return out;
}

Status WriteAll(int fd, const void* data, size_t len, const std::string& what) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (len > 0) {
    ssize_t n = ::write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "write " + what);
    }
    p += n;
    len -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status WriteFileAtomic(const std::string& path, std::span<const uint8_t> data, int mode) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!fd) return Status::FromErrno(errno, "create " + tmp);
  Status s = WriteAll(fd.get(), data.data(), data.size(), tmp);
  if (s.ok() && ::fsync(fd.get()) != 0) s = Status::FromErrno(errno, "fsync " + tmp);
  fd.reset();
  if (s.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    s = Status::FromErrno(errno, "rename " + tmp + " to " + path);
  }
  if (!s.ok()) ::unlink(tmp.c_str());
  return s;
}

namespace {
// The bytes EscapeField writes as %XX: controls, space, DEL and above, '%' and '\\'.
bool NeedsEscape(unsigned char c) { return c <= 0x20 || c >= 0x7f || c == '%' || c == '\\'; }
}  // namespace

std::string EscapeField(std::string_view s) {
  if (s.empty()) return "%";
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (NeedsEscape(c)) {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

Result<std::string> UnescapeField(std::string_view s) {
  if (s == "%") return std::string();
  if (s.empty())
    return Status(Code::kInvalidArgument, "empty field (the empty string is written %)");
  auto hexval = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;  // lower-case hex is another spelling of the same byte: refused
  };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c != '%') {
      if (NeedsEscape(c)) {
        return Status(Code::kInvalidArgument, "byte " + std::to_string(c) + " must be %-escaped");
      }
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) {
      return Status(Code::kInvalidArgument, "truncated %-escape");
    }
    int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
    if (hi < 0 || lo < 0)
      return Status(Code::kInvalidArgument, "bad %-escape (upper-case hex only)");
    auto b = static_cast<unsigned char>(hi * 16 + lo);
    if (!NeedsEscape(b)) {
      return Status(Code::kInvalidArgument,
                    std::string("needless %-escape of '") + static_cast<char>(b) + "'");
    }
    out += static_cast<char>(b);
    i += 2;
  }
  return out;
}

}  // namespace dfs
