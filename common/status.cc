#include "common/status.h"

#include <cstring>

namespace dfs {

std::string_view CodeName(Code c) {
  switch (c) {
    case Code::kOk: return "OK";
    case Code::kInvalidArgument: return "INVALID_ARGUMENT";
    case Code::kNotFound: return "NOT_FOUND";
    case Code::kExists: return "EXISTS";
    case Code::kPermissionDenied: return "PERMISSION_DENIED";
    case Code::kBadSignature: return "BAD_SIGNATURE";
    case Code::kNoKey: return "NO_KEY";
    case Code::kUnsigned: return "UNSIGNED";
    case Code::kCorrupt: return "CORRUPT";
    case Code::kVersion: return "VERSION";
    case Code::kFull: return "FULL";
    case Code::kUnavailable: return "UNAVAILABLE";
    case Code::kUnsupported: return "UNSUPPORTED";
    case Code::kIo: return "IO";
    case Code::kInternal: return "INTERNAL";
  }
  return "UNKNOWN";
}

Status Status::FromErrno(int err, std::string_view context) {
  std::string msg(context);
  msg += ": ";
  msg += std::strerror(err);
  Code code = Code::kIo;
  switch (err) {
    case ENOENT: code = Code::kNotFound; break;
    case EACCES:
    case EPERM: code = Code::kPermissionDenied; break;
    case EEXIST: code = Code::kExists; break;
    case ENOSPC:
    case EDQUOT: code = Code::kFull; break;
    case EINVAL: code = Code::kInvalidArgument; break;
    default: break;
  }
  return Status(code, std::move(msg), err);
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string s(CodeName(code_));
  s += ": ";
  s += message_;
  return s;
}

int Status::ToErrno() const {
  if (err_ != 0) return err_;
  switch (code_) {
    case Code::kOk: return 0;
    case Code::kNotFound: return ENOENT;
    case Code::kExists: return EEXIST;
    case Code::kPermissionDenied:
    case Code::kBadSignature:
    case Code::kNoKey:
    case Code::kUnsigned: return EACCES;
    case Code::kInvalidArgument: return EINVAL;
    case Code::kFull: return ENOSPC;
    case Code::kUnsupported: return EOPNOTSUPP;
    case Code::kUnavailable:
    case Code::kCorrupt:
    case Code::kVersion:
    case Code::kIo:
    case Code::kInternal: return EIO;
  }
  return EIO;
}

Status& Status::Prepend(std::string_view context) {
  if (!ok()) message_ = std::string(context) + ": " + message_;
  return *this;
}

}  // namespace dfs
