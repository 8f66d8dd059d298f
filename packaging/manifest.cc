#include "packaging/manifest.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

#include "common/fd.h"
#include "crypto/hash.h"
#include "crypto/sign.h"
#include "packaging/file_util.h"

namespace dfs {

namespace {

constexpr std::string_view kMagicLine = "digestfs-manifest 1\n";
constexpr std::string_view kPemBegin = "-----BEGIN CMS-----\n";
constexpr size_t kMaxManifest = 256u << 20;

struct DirCloser {
  void operator()(DIR* d) const { closedir(d); }
};

// Recursively walks the directory open at `dfd` whose tree path is `prefix` ("" for the root).
Status Walk(int dfd, const std::string& prefix, dev_t dev, HashAlgo algo, Manifest* m,
            BuildStats* st, int depth) {
  if (depth > 4096)
    return Status(Code::kInvalidArgument, "directory nesting too deep at " + prefix);
  int dup = ::dup(dfd);
  if (dup < 0) return Status::FromErrno(errno, "dup");
  std::unique_ptr<DIR, DirCloser> d(::fdopendir(dup));
  if (!d) {
    ::close(dup);
    return Status::FromErrno(errno, "opendir " + (prefix.empty() ? "/" : prefix));
  }
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* e = ::readdir(d.get())) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(std::move(n));
  }
  if (errno != 0) return Status::FromErrno(errno, "readdir " + prefix);
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    std::string path = prefix + "/" + n;
    struct stat sb;
    if (::fstatat(dfd, n.c_str(), &sb, AT_SYMLINK_NOFOLLOW) != 0) {
      return Status::FromErrno(errno, "stat " + path);
    }
    if (S_ISDIR(sb.st_mode)) {
      if (sb.st_dev != dev) continue;  // another file system mounted here
      Fd sub(::openat(dfd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!sub) return Status::FromErrno(errno, "open directory " + path);
      DFS_RETURN_IF_ERROR(Walk(sub.get(), path, dev, algo, m, st, depth + 1));
      continue;
    }
    if (!S_ISREG(sb.st_mode)) {
      if (st) ++st->skipped;
      continue;
    }
    Fd f(::openat(dfd, n.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
    if (!f) return Status::FromErrno(errno, "open " + path);
    struct stat fsb;
    if (::fstat(f.get(), &fsb) != 0) return Status::FromErrno(errno, "stat " + path);
    if (!S_ISREG(fsb.st_mode)) {  // replaced between fstatat and open
      return Status(Code::kInvalidArgument, path + " changed type during the walk");
    }
    uint64_t size = 0;
    auto dg = HashFd(f.get(), algo, &size);
    if (!dg.ok()) {
      Status e = dg.status();
      return e.Prepend("hash " + path);
    }
    m->entries.push_back({*dg, static_cast<uint32_t>(fsb.st_mode), path});
    if (st) {
      ++st->files;
      st->bytes += size;
    }
  }
  return Status::Ok();
}

bool PathIsNormal(const std::string& p) {
  if (p.empty() || p[0] != '/' || p.size() > 4096) return false;
  size_t i = 1;
  while (i <= p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    std::string_view c(p.data() + i, j - i);
    if (c.empty() || c == "." || c == "..") return false;
    i = j + 1;
  }
  return p.find('\0') == std::string::npos;
}

std::vector<std::string_view> SplitFields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i <= line.size()) {
    size_t j = line.find(' ', i);
    if (j == std::string_view::npos) j = line.size();
    out.push_back(line.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

}  // namespace

Result<Manifest> BuildManifest(const std::string& dir, const std::string& name, HashAlgo algo,
                               BuildStats* stats) {
  Fd root(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) return Status::FromErrno(errno, "open directory " + dir);
  struct stat sb;
  if (::fstat(root.get(), &sb) != 0) return Status::FromErrno(errno, "stat " + dir);
  Manifest m;
  m.name = name;
  m.algo = algo;
  Status s = Walk(root.get(), "", sb.st_dev, algo, &m, stats, 0);
  if (!s.ok()) return s.Prepend(dir);
  std::sort(m.entries.begin(), m.entries.end(),
            [](const ManifestEntry& a, const ManifestEntry& b) { return a.path < b.path; });
  return m;
}

std::string ManifestBody(const Manifest& m) {
  std::string out(kMagicLine);
  out += "name " + EscapeField(m.name) + "\n";
  out += "algo " + std::string(HashAlgoName(m.algo)) + "\n";
  char mode[16];
  for (const auto& e : m.entries) {
    std::snprintf(mode, sizeof mode, "%o", e.mode);
    out += "file " + e.digest.Hex() + " " + mode + " " + EscapeField(e.path) + "\n";
  }
  return out;
}

Result<Manifest> ParseManifestBody(std::string_view body) {
  auto bad = [](size_t line, const std::string& why) {
    return Status(Code::kInvalidArgument, "manifest line " + std::to_string(line) + ": " + why);
  };
  if (!body.starts_with(kMagicLine)) return bad(1, "not a digestfs-manifest version 1");
  if (body.empty() || body.back() != '\n') return bad(0, "body does not end with a newline");
  Manifest m;
  bool have_name = false, have_algo = false;
  size_t lineno = 1;
  size_t pos = kMagicLine.size();
  while (pos < body.size()) {
    ++lineno;
    size_t end = body.find('\n', pos);
    std::string_view line = body.substr(pos, end - pos);
    pos = end + 1;
    auto f = SplitFields(line);
    if (f[0] == "name" && f.size() == 2 && !have_name && !have_algo) {
      auto n = UnescapeField(f[1]);
      if (!n.ok()) return bad(lineno, n.status().message());
      m.name = *n;
      have_name = true;
    } else if (f[0] == "algo" && f.size() == 2 && have_name && !have_algo) {
      m.algo = HashAlgoFromName(f[1]);
      if (m.algo == HashAlgo::kUnknown) return bad(lineno, "unknown algorithm");
      if (f[1] != HashAlgoName(m.algo)) return bad(lineno, "algorithm not spelled as written");
      if (HashAlgoIsWeak(m.algo)) return bad(lineno, "weak algorithm " + std::string(f[1]));
      have_algo = true;
    } else if (f[0] == "file" && f.size() == 4 && have_algo) {
      ManifestEntry e;
      auto d = Digest::FromHex(m.algo, f[1]);
      if (!d.ok()) return bad(lineno, d.status().message());
      if (d->Hex() != f[1]) return bad(lineno, "digest not in lower-case hex");
      e.digest = *d;
      if (f[2].empty() || f[2].size() > 7 || f[2][0] == '0' ||
          f[2].find_first_not_of("01234567") != std::string_view::npos) {
        return bad(lineno, "bad mode");
      }
      e.mode = static_cast<uint32_t>(std::stoul(std::string(f[2]), nullptr, 8));
      if (!S_ISREG(e.mode)) return bad(lineno, "mode is not a regular file's");
      auto p = UnescapeField(f[3]);
      if (!p.ok()) return bad(lineno, p.status().message());
      e.path = *p;
      if (!PathIsNormal(e.path)) return bad(lineno, "path is not absolute and normalised");
      if (!m.entries.empty() && !(m.entries.back().path < e.path)) {
        return bad(lineno, "paths are not strictly ascending");
      }
      m.entries.push_back(std::move(e));
    } else {
      return bad(lineno, "unexpected line");
    }
  }
  if (!have_algo) return bad(lineno, "missing name/algo header");
  return m;
}

Result<std::string> SignManifest(const Manifest& m, std::span<const uint8_t> key_pem,
                                 std::span<const uint8_t> cert) {
  std::string body = ManifestBody(m);
  DFS_ASSIGN_OR_RETURN(
      std::vector<uint8_t> sig,
      SignDetached({reinterpret_cast<const uint8_t*>(body.data()), body.size()}, key_pem, cert,
                   /*module_style=*/false));
  DFS_ASSIGN_OR_RETURN(std::string pem, CmsDerToPem(sig));
  return body + pem;
}

Result<ManifestParts> SplitManifest(std::string_view file) {
  size_t at = file.rfind(std::string("\n") + std::string(kPemBegin));
  if (at == std::string_view::npos) {
    return Status(Code::kUnsigned, "manifest has no signature block");
  }
  ManifestParts p;
  p.body = file.substr(0, at + 1);
  std::string_view pem = file.substr(at + 1);
  constexpr std::string_view kEnd = "-----END CMS-----\n";
  size_t end = pem.find(kEnd);
  if (end == std::string_view::npos || end + kEnd.size() != pem.size()) {
    return Status(Code::kInvalidArgument, "damaged signature block (or text after it)");
  }
  DFS_ASSIGN_OR_RETURN(p.signature_der, CmsPemToDer(pem));
  return p;
}

Result<ImportItem> ReadManifestFile(const std::string& path,
                                    const std::vector<std::vector<uint8_t>>& trusted_certs,
                                    const std::vector<std::string>& trusted_ids) {
  auto fail = [&](Status s) { return s.Prepend(path); };
  auto data = ReadFileLimited(path, kMaxManifest);
  if (!data.ok()) return data.status();
  std::string_view text(reinterpret_cast<const char*>(data->data()), data->size());
  auto parts = SplitManifest(text);
  if (!parts.ok()) return fail(parts.status());
  std::span<const uint8_t> body(reinterpret_cast<const uint8_t*>(parts->body.data()),
                                parts->body.size());
  auto idx = VerifyDetached(parts->signature_der, body, trusted_certs);
  if (!idx.ok()) return fail(idx.status());
  auto m = ParseManifestBody(parts->body);
  if (!m.ok()) return fail(m.status());
  ImportItem item;
  SourceInfo& s = item.source;
  s.kind = SourceKind::kManifest;
  s.name = m->name;
  s.signer = *idx < trusted_ids.size() ? trusted_ids[*idx] : "";
  auto bd = HashBytes(HashAlgo::kSha256, parts->body);
  if (!bd.ok()) return fail(bd.status());
  s.blob_digest = *bd;
  s.import_time = static_cast<int64_t>(time(nullptr));
  s.origin = path;
  for (auto& e : m->entries) {
    FileEntry fe;
    fe.digest = std::move(e.digest);
    fe.path = std::move(e.path);
    fe.mode = e.mode;
    item.files.push_back(std::move(fe));
  }
  return item;
}

}  // namespace dfs
