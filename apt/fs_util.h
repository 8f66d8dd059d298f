// apt/fs_util.h (internal to apt/): reading files of an untrusted tree through directory
// descriptors. Every function reports failures as a Status naming the path.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/fd.h"
#include "common/status.h"

namespace dfs::apt {

// Opens `rel` (relative, may have several components) beneath the directory `rootfd`, resolving
// symlinks as if rootfd were "/" (openat2 RESOLVE_IN_ROOT, no magic links): an image's symlinks
// cannot lead outside it. `flags` as for open(2). `what` names the path in errors.
Result<Fd> OpenInRoot(int rootfd, const std::string& rel, int flags, const std::string& what);

// Opens a regular file `name` (one component) in the directory `dirfd` with O_NOFOLLOW.
// Errors: kNotFound, kInvalidArgument (not a regular file), kIo.
Result<Fd> OpenFileAt(int dirfd, const std::string& name, const std::string& what);

// Reads all of `fd` (at most `limit` bytes; kInvalidArgument beyond).
Result<std::vector<uint8_t>> ReadAll(int fd, size_t limit, const std::string& what);

// The names in a directory (not "." or ".."), sorted.
Result<std::vector<std::string>> ListNames(int dirfd, const std::string& what);

}  // namespace dfs::apt
