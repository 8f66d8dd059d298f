// apt/deb.h: reads a Debian binary package (.deb) with libarchive: the outer ar archive, the
// control archive and the data archive, hashing every byte as it streams.
//
// The layout checked (deb(5)): an ar archive whose first member is "debian-binary" holding a
// format version "2.x", then "control.tar[.gz|.xz|.zst]", then "data.tar[.gz|.xz|.zst|.bz2|.lzma]";
// members whose name starts with '_' are skipped, anything else is refused. The compression of a
// member must be the one its name says. dpkg's own rules for member names apply to both tar
// archives: an absolute name or a ".." component is refused (the whole package), as is a control
// archive member in a subdirectory.
//
// What is read:
// - the SHA-256 and size of the whole .deb (what the Packages stanza lists; the source's G8
//   measurement);
// - the control archive: the text of "control" and "conffiles", and every regular member's name,
//   mode and SHA-256 (maintainer scripts, md5sums, triggers, ...);
// - the data archive: every regular file's path ("/usr/bin/x", normalised: "./" and "." components
//   dropped), mode and SHA-256, hashed while it streams; a hard link gets the digest of the file
//   it links to (which must come earlier in the archive). Directories, symlinks and devices carry
//   no content and are not listed. A path that appears twice is refused.
//
// Nothing here is trusted: the caller compares sha256/size with a signed Packages stanza and
// discards the result if they differ (the bytes parsed are exactly the bytes hashed, so there is
// no window between check and use).
//
// Errors: kCorrupt ("not a .deb", truncated, bad member order or compression, unsafe names,
// a hard link to an unknown file; the message names the member), kIo (read failed).
// Fuzzing entry point: ParseDeb (bytes in memory).
// Thread safety: plain functions; libarchive objects are per call.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "common/digest.h"
#include "common/status.h"

namespace dfs::apt {

struct DebEntry {
  std::string path;   // data: absolute path; control: the member's name ("postinst")
  uint32_t mode = 0;  // st_mode as archived (S_IFREG | permissions)
  uint64_t size = 0;
  Digest digest;  // SHA-256
};

struct DebContents {
  Digest deb_sha256;  // of the whole file, every byte
  uint64_t deb_size = 0;
  std::string control;                  // the control file's text
  std::string conffiles;                // the conffiles member's text (empty if none)
  std::vector<DebEntry> control_files;  // regular members of the control archive, in order
  std::vector<DebEntry> files;          // regular files of the data archive, in order
  std::string data_member;              // e.g. "data.tar.xz"
};

struct DebReadOptions {
  // Members of the control archive whose text is kept (control, conffiles) are capped at this.
  size_t max_control_text = 4u << 20;
  // What the signed index says the .deb is (one entry per stanza that could describe it). When
  // not empty, a .deb whose size and SHA-256 match none of them is refused as kCorrupt naming both
  // values; this is checked after every byte was read and hashed, before any parse error is
  // reported.
  struct Expect {
    uint64_t size = 0;
    Digest sha256;
  };
  std::vector<Expect> expect;
};

// Reads `read(buf, len)` to its end (it returns the bytes read, 0 at the end, -1 with errno set on
// error). Every byte is hashed, including any the archive reader does not need.
Result<DebContents> ReadDeb(const std::function<ssize_t(void*, size_t)>& read,
                            const DebReadOptions& opts = {});
// A .deb in memory.
Result<DebContents> ParseDeb(std::span<const uint8_t> bytes, const DebReadOptions& opts = {});
// A .deb file, read through `fd` (the caller opened it with O_NOFOLLOW).
Result<DebContents> ReadDebFd(int fd, const DebReadOptions& opts = {});

// Normalises an archive member name as dpkg does ("./usr/bin/x" -> "/usr/bin/x", "./" -> "/").
// Errors: kCorrupt for an absolute name, a ".." component, an empty name or a NUL byte.
Result<std::string> NormalizeMemberName(std::string_view name);

}  // namespace dfs::apt
