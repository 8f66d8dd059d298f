#include "apt/deb.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <memory>

#include "crypto/hash.h"

namespace dfs::apt {
namespace {

struct ArchiveFree {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<struct archive, ArchiveFree>;

constexpr size_t kBlock = 256 * 1024;

// The outer stream: every byte read is hashed and counted, whoever asks for it.
struct Outer {
  const std::function<ssize_t(void*, size_t)>* read = nullptr;
  Hasher hasher;
  uint64_t total = 0;
  std::vector<uint8_t> buf = std::vector<uint8_t>(kBlock);
  bool failed = false;
  int err = 0;
  bool eof = false;

  explicit Outer(Hasher h) : hasher(std::move(h)) {}

  ssize_t Next(const void** out) {
    if (eof) return 0;
    ssize_t n;
    do {
      n = (*read)(buf.data(), buf.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      failed = true;
      err = errno;
      return -1;
    }
    if (n == 0) eof = true;
    hasher.Update(buf.data(), static_cast<size_t>(n));
    total += static_cast<uint64_t>(n);
    *out = buf.data();
    return n;
  }
  // Reads and hashes what the archive reader left.
  Status Drain() {
    const void* p;
    while (!eof) {
      if (Next(&p) < 0) return Status::FromErrno(err, "read");
    }
    return Status::Ok();
  }
};

la_ssize_t OuterRead(struct archive* a, void* client, const void** out) {
  auto* o = static_cast<Outer*>(client);
  ssize_t n = o->Next(out);
  if (n < 0) archive_set_error(a, o->err, "read failed");
  return n;
}

// A member of the outer archive as the input of an inner archive.
struct MemberStream {
  struct archive* outer;
  std::vector<uint8_t> buf = std::vector<uint8_t>(kBlock);
};

la_ssize_t MemberRead(struct archive* a, void* client, const void** out) {
  auto* m = static_cast<MemberStream*>(client);
  la_ssize_t n = archive_read_data(m->outer, m->buf.data(), m->buf.size());
  if (n < 0) {
    archive_set_error(a, archive_errno(m->outer), "%s", archive_error_string(m->outer));
    return -1;
  }
  *out = m->buf.data();
  return n;
}

std::string ArchiveError(struct archive* a) {
  const char* s = archive_error_string(a);
  return s ? s : "unknown libarchive error";
}

Status Corrupt(const std::string& what) { return Status(Code::kCorrupt, what); }

// The compression a member name asks for: libarchive filter code, or -1 if the suffix is unknown.
int FilterForSuffix(std::string_view suffix, bool data) {
  if (suffix.empty()) return ARCHIVE_FILTER_NONE;
  if (suffix == ".gz") return ARCHIVE_FILTER_GZIP;
  if (suffix == ".xz") return ARCHIVE_FILTER_XZ;
  if (suffix == ".zst") return ARCHIVE_FILTER_ZSTD;
  if (data && suffix == ".bz2") return ARCHIVE_FILTER_BZIP2;
  if (data && suffix == ".lzma") return ARCHIVE_FILTER_LZMA;
  return -1;
}

void SupportFilter(struct archive* a, int filter) {
  switch (filter) {
    case ARCHIVE_FILTER_GZIP:
      archive_read_support_filter_gzip(a);
      break;
    case ARCHIVE_FILTER_XZ:
      archive_read_support_filter_xz(a);
      break;
    case ARCHIVE_FILTER_ZSTD:
      archive_read_support_filter_zstd(a);
      break;
    case ARCHIVE_FILTER_BZIP2:
      archive_read_support_filter_bzip2(a);
      break;
    case ARCHIVE_FILTER_LZMA:
      archive_read_support_filter_lzma(a);
      break;
    default:
      break;
  }
}

// Hashes the current entry's data (and keeps up to `keep` bytes of it in *text if text is set).
Status HashEntry(struct archive* a, DebEntry* e, std::string* text, size_t keep,
                 const std::string& member) {
  DFS_ASSIGN_OR_RETURN(Hasher h, Hasher::Create(HashAlgo::kSha256));
  std::vector<uint8_t> buf(kBlock);
  uint64_t n = 0;
  for (;;) {
    la_ssize_t r = archive_read_data(a, buf.data(), buf.size());
    if (r < 0) {
      return Corrupt(member + ": " + e->path + ": " + ArchiveError(a));
    }
    if (r == 0) break;
    h.Update(buf.data(), static_cast<size_t>(r));
    n += static_cast<uint64_t>(r);
    if (text != nullptr) {
      if (text->size() + static_cast<size_t>(r) > keep) {
        return Corrupt(member + ": " + e->path + " is larger than " + std::to_string(keep) +
                       " bytes");
      }
      text->append(reinterpret_cast<const char*>(buf.data()), static_cast<size_t>(r));
    }
  }
  e->digest = h.Finish();
  e->size = n;
  return Status::Ok();
}

// Reads one inner tar (the current member of `outer`).
Status ReadInner(struct archive* outer, const std::string& member, int filter, bool is_control,
                 const DebReadOptions& opts, DebContents* out) {
  ArchivePtr a(archive_read_new());
  if (!a) return Status(Code::kInternal, "archive_read_new");
  SupportFilter(a.get(), filter);
  archive_read_support_format_tar(a.get());
  MemberStream ms{outer};
  if (archive_read_open(a.get(), &ms, nullptr, MemberRead, nullptr) != ARCHIVE_OK) {
    return Corrupt(member + ": not a tar archive: " + ArchiveError(a.get()));
  }
  std::map<std::string, size_t> seen;  // path -> index in the file list
  std::vector<DebEntry>& list = is_control ? out->control_files : out->files;
  bool checked_filter = false;
  for (;;) {
    struct archive_entry* ent = nullptr;
    int r = archive_read_next_header(a.get(), &ent);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      return Corrupt(member + ": " + ArchiveError(a.get()));
    }
    if (!checked_filter) {
      checked_filter = true;
      if (archive_filter_code(a.get(), 0) != filter) {
        return Corrupt(member + ": its compression does not match its name (" +
                       std::string(archive_filter_name(a.get(), 0)) + ")");
      }
    }
    const char* raw = archive_entry_pathname(ent);
    if (raw == nullptr) return Corrupt(member + ": a member without a name");
    auto path = NormalizeMemberName(raw);
    if (!path.ok()) return Corrupt(member + ": " + path.status().message());
    mode_t type = archive_entry_filetype(ent);
    const char* link = archive_entry_hardlink(ent);
    if (is_control) {
      if (*path == "/") continue;
      if (path->find('/', 1) != std::string::npos) {
        return Corrupt(member + ": member " + *path + " is in a subdirectory");
      }
      if (type != AE_IFREG || link != nullptr) {
        return Corrupt(member + ": member " + *path + " is not a regular file");
      }
      DebEntry e;
      e.path = path->substr(1);
      e.mode = static_cast<uint32_t>(archive_entry_mode(ent));
      std::string* text = nullptr;
      if (e.path == "control") text = &out->control;
      if (e.path == "conffiles") text = &out->conffiles;
      DFS_RETURN_IF_ERROR(HashEntry(a.get(), &e, text, opts.max_control_text, member));
      if (!seen.emplace(e.path, list.size()).second) {
        return Corrupt(member + ": member " + e.path + " appears twice");
      }
      list.push_back(std::move(e));
      continue;
    }
    if (link != nullptr) {
      auto target = NormalizeMemberName(link);
      if (!target.ok())
        return Corrupt(member + ": hard link " + *path + ": " + target.status().message());
      auto it = seen.find(*target);
      if (it == seen.end()) {
        return Corrupt(member + ": hard link " + *path + " points to " + *target +
                       ", which is not a regular file before it");
      }
      DebEntry e = list[it->second];
      e.path = *path;
      if (!seen.emplace(e.path, list.size()).second) {
        return Corrupt(member + ": " + e.path + " appears twice");
      }
      list.push_back(std::move(e));
      continue;
    }
    if (type != AE_IFREG) continue;  // directories, symlinks, devices: no content to vouch for
    DebEntry e;
    e.path = *path;
    e.mode = static_cast<uint32_t>(archive_entry_mode(ent));
    DFS_RETURN_IF_ERROR(HashEntry(a.get(), &e, nullptr, 0, member));
    if (!seen.emplace(e.path, list.size()).second) {
      return Corrupt(member + ": " + e.path + " appears twice");
    }
    list.push_back(std::move(e));
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> NormalizeMemberName(std::string_view name) {
  if (name.empty()) return Corrupt("an empty member name");
  if (name.find('\0') != std::string_view::npos) return Corrupt("a member name with a NUL byte");
  if (name.front() == '/') {
    return Corrupt("absolute member name " + std::string(name) + " (refused, as dpkg does)");
  }
  std::string out;
  size_t i = 0;
  while (i <= name.size()) {
    size_t j = name.find('/', i);
    if (j == std::string_view::npos) j = name.size();
    std::string_view comp = name.substr(i, j - i);
    if (comp == "..") {
      return Corrupt("member name " + std::string(name) + " has a \"..\" component (refused)");
    }
    if (!comp.empty() && comp != ".") {
      out += '/';
      out += comp;
    }
    i = j + 1;
  }
  if (out.empty()) out = "/";
  return out;
}

Result<DebContents> ReadDeb(const std::function<ssize_t(void*, size_t)>& read,
                            const DebReadOptions& opts) {
  DFS_ASSIGN_OR_RETURN(Hasher h, Hasher::Create(HashAlgo::kSha256));
  Outer o(std::move(h));
  o.read = &read;
  DebContents out;
  Status st = [&]() -> Status {
    ArchivePtr a(archive_read_new());
    if (!a) return Status(Code::kInternal, "archive_read_new");
    archive_read_support_format_ar(a.get());
    if (archive_read_open(a.get(), &o, nullptr, OuterRead, nullptr) != ARCHIVE_OK) {
      if (o.failed) return Status::FromErrno(o.err, "read");
      return Corrupt("not a .deb (not an ar archive: " + ArchiveError(a.get()) + ")");
    }
    int stage = 0;  // 0: want debian-binary, 1: control, 2: data, 3: done
    for (;;) {
      struct archive_entry* ent = nullptr;
      int r = archive_read_next_header(a.get(), &ent);
      if (r == ARCHIVE_EOF) break;
      if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
        if (o.failed) return Status::FromErrno(o.err, "read");
        if (stage == 0) return Corrupt("not a .deb (" + ArchiveError(a.get()) + ")");
        return Corrupt("truncated or damaged .deb: " + ArchiveError(a.get()));
      }
      std::string name = archive_entry_pathname(ent) ? archive_entry_pathname(ent) : "";
      if (stage == 0) {
        if (name != "debian-binary") {
          return Corrupt("not a .deb (first member is '" + name + "', not debian-binary)");
        }
        char v[16] = {};
        la_ssize_t n = archive_read_data(a.get(), v, sizeof v - 1);
        if (n < 4 || std::strncmp(v, "2.", 2) != 0) {
          return Corrupt("not a .deb of format 2.x (debian-binary says '" +
                         std::string(v, n > 0 ? static_cast<size_t>(n) : 0) + "')");
        }
        stage = 1;
        continue;
      }
      if (!name.empty() && name[0] == '_') continue;
      if (stage == 1 && name.starts_with("control.tar")) {
        int f = FilterForSuffix(std::string_view(name).substr(11), false);
        if (f < 0) return Corrupt("unsupported control member " + name);
        DFS_RETURN_IF_ERROR(ReadInner(a.get(), name, f, true, opts, &out));
        if (out.control.empty()) return Corrupt(name + " has no control file");
        stage = 2;
        continue;
      }
      if (stage == 2 && name.starts_with("data.tar")) {
        int f = FilterForSuffix(std::string_view(name).substr(8), true);
        if (f < 0) return Corrupt("unsupported data member " + name);
        out.data_member = name;
        DFS_RETURN_IF_ERROR(ReadInner(a.get(), name, f, false, opts, &out));
        stage = 3;
        continue;
      }
      return Corrupt("unexpected member '" + name + "' in a .deb" +
                     (stage == 3 ? " after the data archive" : ""));
    }
    if (o.failed) return Status::FromErrno(o.err, "read");
    if (stage < 3) {
      return Corrupt(stage == 0 ? "not a .deb (empty ar archive)"
                                : "truncated .deb: no " +
                                      std::string(stage == 1 ? "control" : "data") + " archive");
    }
    return Status::Ok();
  }();
  // Hash to the end even when parsing stopped early: a .deb that is not the one its stanza lists
  // is reported as such, whatever else is wrong with it.
  Status drained = o.Drain();
  out.deb_sha256 = o.hasher.Finish();
  out.deb_size = o.total;
  if (!drained.ok()) return drained;
  if (!opts.expect.empty()) {
    bool size_ok = false, match = false;
    for (const auto& e : opts.expect) {
      size_ok |= e.size == out.deb_size;
      match |= e.size == out.deb_size && e.sha256 == out.deb_sha256;
    }
    const auto& e0 = opts.expect.front();
    if (!size_ok) {
      return Corrupt("size " + std::to_string(out.deb_size) + " does not match the signed index (" +
                     std::to_string(e0.size) + (out.deb_size < e0.size ? "): truncated" : ")"));
    }
    if (!match) {
      return Corrupt("SHA-256 " + out.deb_sha256.Hex() + " does not match the signed index (" +
                     e0.sha256.Hex() + ")");
    }
  }
  if (!st.ok()) return st;
  return out;
}

Result<DebContents> ParseDeb(std::span<const uint8_t> bytes, const DebReadOptions& opts) {
  size_t pos = 0;
  std::function<ssize_t(void*, size_t)> read = [&](void* buf, size_t len) -> ssize_t {
    size_t n = std::min(len, bytes.size() - pos);
    if (n > 0) std::memcpy(buf, bytes.data() + pos, n);
    pos += n;
    return static_cast<ssize_t>(n);
  };
  return ReadDeb(read, opts);
}

Result<DebContents> ReadDebFd(int fd, const DebReadOptions& opts) {
  std::function<ssize_t(void*, size_t)> read = [fd](void* buf, size_t len) {
    return ::read(fd, buf, len);
  };
  return ReadDeb(read, opts);
}

}  // namespace dfs::apt
