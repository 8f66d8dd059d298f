// common/status.h: the one error type used inside digestfs.
//
// Every fallible function returns a Status or a Result<T>. errno values are turned into a Status in
// one place (Status::FromErrno) and back into an errno in one place (Status::ToErrno), used only at
// the FUSE edge (fs/). No exception crosses a component boundary.
//
// Thread safety: Status and Result are values; distinct objects may be used from distinct threads.
#pragma once

#include <cerrno>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace dfs {

enum class Code {
  kOk = 0,
  kInvalidArgument,   // the caller's input is malformed (bad policy, bad digest string, bad list)
  kNotFound,          // the thing asked for does not exist (digest not in store, no such source)
  kExists,            // the thing to create exists already
  kPermissionDenied,  // a verdict or an access check refused (maps to EACCES)
  kBadSignature,      // a signature is present and does not verify
  kNoKey,             // a signature names a key that is not configured
  kUnsigned,          // a signature is required and absent
  kCorrupt,           // stored or received data fails an integrity or structure check
  kVersion,           // an on-disk format of an unknown or newer version
  kFull,              // a store or disk is full
  kUnavailable,       // a required service (TPM, store) cannot be reached
  kUnsupported,       // a valid request this build cannot satisfy (e.g. an algorithm)
  kIo,                // an operating-system call failed; errno() says which
  kInternal,          // a bug: an invariant was violated
};

std::string_view CodeName(Code c);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(Code code, std::string message, int err = 0)
      : code_(code), err_(err), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  // An OS error: code kIo (or a finer code for ENOENT/EACCES/EEXIST/ENOSPC), errno kept.
  static Status FromErrno(int err, std::string_view context);

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  // The errno this status came from, or 0.
  int sys_errno() const { return err_; }
  const std::string& message() const { return message_; }
  // "CODE: message" for logs and CLI errors.
  std::string ToString() const;
  // The errno to answer the kernel with. Used only at the FUSE edge.
  int ToErrno() const;

  // Prefixes context ("importing foo.rpm: ...") and returns *this.
  Status& Prepend(std::string_view context);

 private:
  Code code_ = Code::kOk;
  int err_ = 0;
  std::string message_;
};

// A value or the Status that explains its absence.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT: must not be OK
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

#define DFS_RETURN_IF_ERROR(expr)        \
  do {                                   \
    ::dfs::Status _dfs_s = (expr);       \
    if (!_dfs_s.ok()) return _dfs_s;     \
  } while (0)

#define DFS_CONCAT_INNER(a, b) a##b
#define DFS_CONCAT(a, b) DFS_CONCAT_INNER(a, b)
#define DFS_ASSIGN_OR_RETURN(lhs, expr) DFS_ASSIGN_OR_RETURN_IMPL(DFS_CONCAT(_dfs_r, __LINE__), lhs, expr)
#define DFS_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()

}  // namespace dfs
