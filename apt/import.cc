#include "apt/import.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <ctime>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "apt/deb822.h"
#include "apt/fs_util.h"
#include "crypto/hash.h"

namespace dfs::apt {
namespace {

constexpr size_t kMaxStatus = 512u << 20;

struct DirRef {
  Fd fd;
  std::string name;
};

Result<DirRef> OpenHostDir(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return Status::FromErrno(errno, "open directory " + path);
  return DirRef{std::move(fd), path};
}

Result<std::unique_ptr<AptIndex>> LoadIndex(std::vector<DirRef>& dirs, PgpVerifier& verifier,
                                            const AptImportOptions& opts) {
  std::vector<ListDir> ld;
  for (const DirRef& d : dirs) ld.push_back({d.fd.get(), d.name});
  IndexLoadOptions io;
  io.now = opts.now;
  return AptIndex::Load(ld, verifier, io);
}

void FillIndexStats(const AptIndex& idx, AptImportResult* r) {
  r->problems = idx.problems();
  r->releases = idx.releases();
  r->indexes = idx.packages_files();
}

// apt's name for a downloaded .deb: PACKAGE_VERSION_ARCH.deb, ':' in the version as "%3a".
std::string AptDebName(const IndexEntry& e) {
  std::string v;
  for (char c : e.version) {
    if (c == ':') {
      v += "%3a";
    } else {
      v += c;
    }
  }
  return e.package + "_" + v + "_" + e.arch + ".deb";
}

std::string BaseName(const std::string& p) {
  size_t s = p.find_last_of('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

// Reads a .deb and matches it to the stanzas that may describe it.
struct MatchedDeb {
  Result<DebContents> contents = Status(Code::kInternal, "not read");
  const IndexEntry* entry = nullptr;
};

MatchedDeb ReadAndMatch(int fd, const std::vector<const IndexEntry*>& entries) {
  MatchedDeb out;
  DebReadOptions o;
  for (const IndexEntry* e : entries) o.expect.push_back({e->size, e->sha256});
  out.contents = ReadDebFd(fd, o);
  if (out.contents.ok()) {
    for (const IndexEntry* e : entries) {
      if (e->size == out.contents->deb_size && e->sha256 == out.contents->deb_sha256) {
        out.entry = e;
        break;
      }
    }
  }
  return out;
}

}  // namespace

Status ParseDpkgStatus(std::string_view text, std::vector<InstalledPackage>* out) {
  std::vector<Stanza> st;
  Status s = ParseDeb822(text, &st);
  if (!s.ok()) return s.Prepend("dpkg status");
  for (const Stanza& p : st) {
    std::vector<std::string_view> status = SplitBlanks(p.Get("Status"));
    if (status.size() != 3) continue;
    std::string_view state = status[2];
    if (state != "installed" && state != "triggers-pending" && state != "triggers-awaited") {
      continue;
    }
    InstalledPackage ip;
    ip.package = std::string(p.Get("Package"));
    ip.version = std::string(p.Get("Version"));
    ip.arch = std::string(p.Get("Architecture"));
    if (ip.package.empty() || ip.version.empty() || ip.arch.empty()) {
      return Status(Code::kCorrupt, "dpkg status: line " + std::to_string(p.line) +
                                        ": an installed package without Package, Version or "
                                        "Architecture");
    }
    out->push_back(std::move(ip));
  }
  return Status::Ok();
}

std::string PathAliases::Apply(const std::string& path) const {
  for (const auto& [from, to] : map) {
    if (path.size() > from.size() && path.compare(0, from.size(), from) == 0 &&
        path[from.size()] == '/') {
      return to + path.substr(from.size());
    }
  }
  return path;
}

PathAliases ReadPathAliases(int rootfd) {
  PathAliases a;
  auto names = ListNames(rootfd, "root");
  if (!names.ok()) return a;
  for (const std::string& n : *names) {
    struct stat st;
    if (::fstatat(rootfd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISLNK(st.st_mode)) {
      continue;
    }
    char buf[4096];
    ssize_t len = ::readlinkat(rootfd, n.c_str(), buf, sizeof buf - 1);
    if (len <= 0) continue;
    std::string target(buf, static_cast<size_t>(len));
    while (target.size() > 1 && target.back() == '/') target.pop_back();
    if (target.front() == '/') target.erase(0, 1);  // "/usr/bin" is "usr/bin" within the root
    auto norm = NormalizeMemberName(target);
    if (!norm.ok() || *norm == "/") continue;
    // Only a target that is a real directory of the root (one level of aliasing).
    struct stat tst;
    if (::fstatat(rootfd, norm->c_str() + 1, &tst, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISDIR(tst.st_mode)) {
      continue;
    }
    a.map.emplace_back("/" + n, *norm);
  }
  return a;
}

std::string DebSourceName(std::string_view package, std::string_view version,
                          std::string_view arch) {
  return std::string(package) + "_" + std::string(version) + "_" + std::string(arch);
}

Result<ImportItem> BuildDebItem(const IndexEntry& entry, const DebContents& deb,
                                const PathAliases& aliases, const std::string& origin) {
  std::vector<Stanza> control;
  Status s = ParseDeb822(deb.control, &control);
  if (!s.ok()) return s.Prepend("control file");
  if (control.size() != 1) {
    return Status(Code::kCorrupt, "control file holds " + std::to_string(control.size()) +
                                      " stanzas (expected one)");
  }
  const Stanza& c = control[0];
  for (const auto& [field, want] :
       {std::pair<const char*, const std::string*>{"Package", &entry.package},
        {"Version", &entry.version},
        {"Architecture", &entry.arch}}) {
    if (c.Get(field) != *want) {
      return Status(Code::kCorrupt, std::string("control file's ") + field + " '" +
                                        std::string(c.Get(field)) +
                                        "' differs from the signed index's '" + *want + "'");
    }
  }
  ImportItem item;
  SourceInfo& src = item.source;
  src.kind = SourceKind::kDeb;
  src.name = DebSourceName(entry.package, entry.version, entry.arch);
  src.package = entry.package;
  src.version = entry.version;
  src.arch = entry.arch;
  src.signer = entry.signer;
  src.blob_digest = deb.deb_sha256;
  src.import_time = static_cast<int64_t>(time(nullptr));
  src.origin = origin;

  std::set<std::string> conffiles;
  for (std::string_view line : FieldLines(deb.conffiles)) {
    std::vector<std::string_view> w = SplitBlanks(line);
    if (w.empty()) continue;
    // "[flags...] /path" (dpkg 1.20.1: "remove-on-upgrade /etc/x").
    std::string_view p = w.back();
    if (p.empty() || p.front() != '/') {
      return Status(Code::kCorrupt, "conffiles line '" + std::string(line) + "' names no path");
    }
    conffiles.insert(aliases.Apply(std::string(p)));
  }
  // Data files; a path given twice after aliasing keeps the later one (what dpkg leaves on disk).
  std::map<std::string, FileEntry> files;
  for (const DebEntry& e : deb.files) {
    FileEntry fe;
    fe.path = aliases.Apply(e.path);
    fe.digest = e.digest;
    fe.mode = e.mode;
    if (conffiles.count(fe.path)) fe.flags |= kFileMutable | kFileConfig;
    files[fe.path] = std::move(fe);
  }
  // Control members dpkg installs into its info database.
  std::string info = "/var/lib/dpkg/info/" + entry.package;
  if (c.Get("Multi-Arch") == "same") info += ":" + entry.arch;
  for (const DebEntry& e : deb.control_files) {
    if (e.path.find('.') != std::string::npos || e.path == "control" || e.path == "list") continue;
    FileEntry fe;
    fe.path = info + "." + e.path;
    fe.digest = e.digest;
    fe.mode = e.mode;
    files[fe.path] = std::move(fe);
  }
  item.files.reserve(files.size());
  for (auto& [p, fe] : files) item.files.push_back(std::move(fe));
  return item;
}

Result<AptImportResult> ImportRoot(const std::string& root, const std::vector<std::string>& lists,
                                   const std::vector<std::string>& debs, PgpVerifier& verifier,
                                   const AptImportOptions& opts) {
  Fd rootfd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!rootfd) return Status::FromErrno(errno, "root " + root);
  std::string base = root;
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  if (base == "/") base.clear();
  DFS_ASSIGN_OR_RETURN(Fd sfd, OpenInRoot(rootfd.get(), "var/lib/dpkg/status",
                                          O_RDONLY | O_NOFOLLOW, base + "/var/lib/dpkg/status"));
  DFS_ASSIGN_OR_RETURN(std::vector<uint8_t> stext,
                       ReadAll(sfd.get(), kMaxStatus, base + "/var/lib/dpkg/status"));
  std::vector<InstalledPackage> installed;
  DFS_RETURN_IF_ERROR(ParseDpkgStatus(
      std::string_view(reinterpret_cast<const char*>(stext.data()), stext.size()), &installed));

  std::vector<DirRef> list_dirs, deb_dirs;
  {
    auto l = OpenInRoot(rootfd.get(), "var/lib/apt/lists", O_RDONLY | O_DIRECTORY,
                        base + "/var/lib/apt/lists");
    if (l.ok()) list_dirs.push_back({std::move(*l), base + "/var/lib/apt/lists"});
    auto d = OpenInRoot(rootfd.get(), "var/cache/apt/archives", O_RDONLY | O_DIRECTORY,
                        base + "/var/cache/apt/archives");
    if (d.ok()) deb_dirs.push_back({std::move(*d), base + "/var/cache/apt/archives"});
  }
  for (const std::string& p : lists) {
    DFS_ASSIGN_OR_RETURN(DirRef d, OpenHostDir(p));
    list_dirs.push_back(std::move(d));
  }
  for (const std::string& p : debs) {
    DFS_ASSIGN_OR_RETURN(DirRef d, OpenHostDir(p));
    deb_dirs.push_back(std::move(d));
  }
  DFS_ASSIGN_OR_RETURN(std::unique_ptr<AptIndex> idx, LoadIndex(list_dirs, verifier, opts));
  AptImportResult res;
  FillIndexStats(*idx, &res);
  PathAliases aliases = ReadPathAliases(rootfd.get());

  // One package: everything it reads is shared read-only (the index, the directories' descriptors,
  // the aliases), so packages are read in parallel (xz decompression dominates the time).
  auto one = [&](size_t i) {
    const InstalledPackage& ip = installed[i];
    DebOutcome out;
    out.input = ip.package + " " + ip.version + " " + ip.arch;
    std::vector<const IndexEntry*> entries = idx->Find(ip.package, ip.version, ip.arch);
    if (entries.empty()) {
      out.item = idx->NotListed(out.input);
    } else {
      // The .deb: by each stanza's Filename base name, then apt's own name.
      std::vector<std::string> names;
      for (const IndexEntry* e : entries) {
        for (std::string n : {BaseName(e->filename), AptDebName(*e)}) {
          if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
        }
      }
      Fd fd;
      std::string path;
      Status open_error;
      for (const DirRef& d : deb_dirs) {
        for (const std::string& n : names) {
          auto f = OpenFileAt(d.fd.get(), n, d.name + "/" + n);
          if (f.ok()) {
            fd = std::move(*f);
            path = d.name + "/" + n;
            break;
          }
          if (f.status().code() != Code::kNotFound && open_error.ok()) open_error = f.status();
        }
        if (fd) break;
      }
      if (!fd) {
        std::string where;
        for (const DirRef& d : deb_dirs) where += (where.empty() ? "" : ", ") + d.name;
        out.item =
            open_error.ok()
                ? Status(Code::kNotFound, "no .deb for it: " + names.front() + " is missing from " +
                                              (where.empty() ? "(no directory)" : where))
                : open_error;
      } else {
        MatchedDeb rd = ReadAndMatch(fd.get(), entries);
        if (rd.contents.ok()) out.deb_bytes = rd.contents->deb_size;
        if (!rd.contents.ok()) {
          out.item = Status(rd.contents.status()).Prepend(path);
        } else {
          out.item = BuildDebItem(*rd.entry, *rd.contents, aliases, path);
          if (!out.item.ok()) out.item = Status(out.item.status()).Prepend(path);
        }
      }
    }
    return out;
  };
  res.packages.resize(installed.size());
  std::atomic<size_t> next{0};
  std::mutex progress_mu;
  size_t done = 0;
  auto worker = [&]() {
    for (size_t i; (i = next.fetch_add(1)) < installed.size();) {
      res.packages[i] = one(i);
      std::lock_guard lock(progress_mu);
      ++done;
      if (opts.progress) opts.progress(done, installed.size());
    }
  };
  size_t jobs =
      opts.jobs != 0 ? opts.jobs : std::min<size_t>(4, std::thread::hardware_concurrency());
  jobs = std::max<size_t>(1, std::min(jobs, installed.size()));
  std::vector<std::thread> threads;
  for (size_t t = 1; t < jobs; ++t) threads.emplace_back(worker);
  worker();
  for (std::thread& t : threads) t.join();
  return res;
}

Result<AptImportResult> ImportDebFiles(const std::vector<std::string>& files,
                                       const std::vector<std::string>& lists, PgpVerifier& verifier,
                                       const AptImportOptions& opts) {
  std::vector<DirRef> list_dirs;
  for (const std::string& p : lists) {
    DFS_ASSIGN_OR_RETURN(DirRef d, OpenHostDir(p));
    list_dirs.push_back(std::move(d));
  }
  DFS_ASSIGN_OR_RETURN(std::unique_ptr<AptIndex> idx, LoadIndex(list_dirs, verifier, opts));
  AptImportResult res;
  FillIndexStats(*idx, &res);
  PathAliases none;
  for (size_t i = 0; i < files.size(); ++i) {
    DebOutcome out;
    out.input = files[i];
    out.item = [&]() -> Result<ImportItem> {
      auto fail = [&](Status s) { return s.Prepend(files[i]); };
      Fd fd(::open(files[i].c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
      if (!fd) {
        if (errno == ELOOP) return fail(Status(Code::kInvalidArgument, "is a symlink (refused)"));
        return fail(Status::FromErrno(errno, "open"));
      }
      struct stat st;
      if (::fstat(fd.get(), &st) != 0) return fail(Status::FromErrno(errno, "stat"));
      if (!S_ISREG(st.st_mode)) return fail(Status(Code::kInvalidArgument, "not a regular file"));
      // First pass: which stanza lists this file? (The second pass hashes again while parsing.)
      DFS_ASSIGN_OR_RETURN(Hasher h, Hasher::Create(HashAlgo::kSha256));
      std::vector<uint8_t> buf(1 << 20);
      uint64_t total = 0;
      for (;;) {
        ssize_t n = ::read(fd.get(), buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(Status::FromErrno(errno, "read"));
        if (n == 0) break;
        h.Update(buf.data(), static_cast<size_t>(n));
        total += static_cast<uint64_t>(n);
      }
      Digest d = h.Finish();
      std::vector<const IndexEntry*> entries = idx->FindBySha256(d);
      if (entries.empty()) {
        return fail(idx->NotListed("a .deb with SHA-256 " + d.Hex() + " (" + std::to_string(total) +
                                   " bytes)"));
      }
      if (::lseek(fd.get(), 0, SEEK_SET) != 0) return fail(Status::FromErrno(errno, "seek"));
      MatchedDeb rd = ReadAndMatch(fd.get(), entries);
      if (!rd.contents.ok()) return fail(rd.contents.status());
      out.deb_bytes = rd.contents->deb_size;
      auto item = BuildDebItem(*rd.entry, *rd.contents, none, files[i]);
      if (!item.ok()) return fail(item.status());
      return item;
    }();
    res.packages.push_back(std::move(out));
    if (opts.progress) opts.progress(i + 1, files.size());
  }
  return res;
}

}  // namespace dfs::apt
