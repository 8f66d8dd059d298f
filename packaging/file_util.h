// packaging/file_util.h (internal to packaging/): small file helpers shared by the importers.
// Every function reports failures as a Status naming the path.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace dfs {

// Reads a whole regular file (no symlink following for the last component) of at most `limit`
// bytes. Errors: kNotFound, kInvalidArgument (not a regular file, larger than limit), kIo.
Result<std::vector<uint8_t>> ReadFileLimited(const std::string& path, size_t limit);

// Writes all bytes, retrying short writes and EINTR.
Status WriteAll(int fd, const void* data, size_t len, const std::string& what);

// Writes a file atomically: a temporary file in the same directory, fsync, rename.
Status WriteFileAtomic(const std::string& path, std::span<const uint8_t> data, int mode = 0644);

// Escapes a string for one whitespace-separated text field: bytes outside printable ASCII, space,
// '%' and '\\' become %XX. The empty string becomes "%". Reversible with UnescapeField.
std::string EscapeField(std::string_view s);
// Inverse of EscapeField, and accepts only what EscapeField writes, so each string has one
// spelling: a raw byte that EscapeField would escape, lower-case hex, or an escape of a byte that
// needs none is kInvalidArgument, as is a truncated or non-hex escape, or an empty field.
Result<std::string> UnescapeField(std::string_view s);

}  // namespace dfs
