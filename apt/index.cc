#include "apt/index.h"

#include <archive.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <set>

#include "apt/deb822.h"
#include "apt/fs_util.h"
#include "crypto/hash.h"

namespace dfs::apt {
namespace {

constexpr size_t kMaxRelease = 64u << 20;
constexpr size_t kMaxPackages = 1u << 30;  // decompressed

struct ArchiveFree {
  void operator()(struct archive* a) const { archive_read_free(a); }
};

Status Corrupt(const std::string& m) { return Status(Code::kCorrupt, m); }

bool ParseU64(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 19) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

Result<Digest> Sha256FromHex(std::string_view hex) {
  if (hex.size() != 64) return Corrupt("a SHA-256 of " + std::to_string(hex.size()) + " digits");
  auto b = FromHex(hex);
  if (!b.ok()) return Corrupt("a SHA-256 that is not hex");
  Digest d;
  d.algo = HashAlgo::kSha256;
  d.bytes = std::move(*b);
  return d;
}

std::string Key(std::string_view p, std::string_view v, std::string_view a) {
  std::string k;
  k.reserve(p.size() + v.size() + a.size() + 2);
  k.append(p).push_back('\0');
  k.append(v).push_back('\0');
  k.append(a);
  return k;
}

std::string DigestKey(const Digest& d) {
  return std::string(reinterpret_cast<const char*>(d.bytes.data()), d.bytes.size());
}

// Decompresses an index file as its name says (plain, .gz, .xz, .bz2, .lz4, .zst).
Result<std::string> Decompress(const std::vector<uint8_t>& data, std::string_view name) {
  auto ends = [&](std::string_view s) { return name.ends_with(s); };
  if (!(ends(".gz") || ends(".xz") || ends(".bz2") || ends(".lz4") || ends(".zst"))) {
    return std::string(reinterpret_cast<const char*>(data.data()), data.size());
  }
  std::unique_ptr<struct archive, ArchiveFree> a(archive_read_new());
  if (ends(".gz")) archive_read_support_filter_gzip(a.get());
  if (ends(".xz")) archive_read_support_filter_xz(a.get());
  if (ends(".bz2")) archive_read_support_filter_bzip2(a.get());
  if (ends(".lz4")) archive_read_support_filter_lz4(a.get());
  if (ends(".zst")) archive_read_support_filter_zstd(a.get());
  archive_read_support_format_raw(a.get());
  struct archive_entry* ent = nullptr;
  if (archive_read_open_memory(a.get(), data.data(), data.size()) != ARCHIVE_OK ||
      archive_read_next_header(a.get(), &ent) != ARCHIVE_OK) {
    const char* e = archive_error_string(a.get());
    return Corrupt("cannot decompress: " + std::string(e ? e : "unknown format"));
  }
  if (archive_filter_count(a.get()) < 2) return Corrupt("not compressed as its name says");
  std::string out;
  std::vector<char> buf(1 << 20);
  for (;;) {
    la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
    if (n < 0) {
      const char* e = archive_error_string(a.get());
      return Corrupt("cannot decompress: " + std::string(e ? e : "error"));
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > kMaxPackages) {
      return Corrupt("larger than " + std::to_string(kMaxPackages) + " bytes decompressed");
    }
    out.append(buf.data(), static_cast<size_t>(n));
  }
  return out;
}

// "main_binary-amd64_Packages" -> "main/binary-amd64/Packages" (apt's escaping undone: '_' is '/',
// "%xx" a byte).
std::string RelPathOf(std::string_view rest) {
  std::string out;
  for (size_t i = 0; i < rest.size(); ++i) {
    char c = rest[i];
    if (c == '_') {
      out += '/';
    } else if (c == '%' && i + 2 < rest.size()) {
      auto b = FromHex(rest.substr(i + 1, 2));
      if (b.ok() && b->size() == 1) {
        out += static_cast<char>((*b)[0]);
        i += 2;
      } else {
        out += c;
      }
    } else {
      out += c;
    }
  }
  return out;
}

bool IsPackagesName(std::string_view rest) {
  size_t p = rest.rfind("Packages");
  if (p == std::string_view::npos) return false;
  if (p != 0 && rest[p - 1] != '_') return false;
  std::string_view ext = rest.substr(p + 8);
  return ext.empty() || ext == ".gz" || ext == ".xz" || ext == ".bz2" || ext == ".lz4" ||
         ext == ".zst";
}

std::string FormatDate(int64_t t) {
  time_t tt = static_cast<time_t>(t);
  struct tm tm {};
  gmtime_r(&tt, &tm);
  char buf[40];
  strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

}  // namespace

Result<int64_t> ParseReleaseDate(std::string_view s) {
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::vector<std::string_view> t = SplitBlanks(s);
  // Optional "Day," first.
  if (!t.empty() && t[0].ends_with(',')) t.erase(t.begin());
  auto bad = [&]() { return Corrupt("date '" + std::string(s) + "' is not RFC 2822"); };
  if (t.size() != 5) return bad();
  uint64_t day, year;
  if (!ParseU64(t[0], &day) || day < 1 || day > 31 || !ParseU64(t[2], &year) || year < 1970 ||
      year > 9999) {
    return bad();
  }
  int mon = -1;
  for (int i = 0; i < 12; ++i) {
    if (t[1] == kMonths[i]) mon = i;
  }
  if (mon < 0) return bad();
  std::string_view hms = t[3];
  uint64_t hh, mm, ss = 0;
  if (hms.size() != 8 || hms[2] != ':' || hms[5] != ':' || !ParseU64(hms.substr(0, 2), &hh) ||
      !ParseU64(hms.substr(3, 2), &mm) || !ParseU64(hms.substr(6, 2), &ss) || hh > 23 || mm > 59 ||
      ss > 60) {
    return bad();
  }
  int64_t offset = 0;
  std::string_view z = t[4];
  if (z == "UTC" || z == "GMT" || z == "Z" || z == "+0000" || z == "-0000") {
    offset = 0;
  } else if (z.size() == 5 && (z[0] == '+' || z[0] == '-')) {
    uint64_t oh, om;
    if (!ParseU64(z.substr(1, 2), &oh) || !ParseU64(z.substr(3, 2), &om) || oh > 23 || om > 59) {
      return bad();
    }
    offset = static_cast<int64_t>(oh * 3600 + om * 60) * (z[0] == '-' ? -1 : 1);
  } else {
    return bad();
  }
  struct tm tm {};
  tm.tm_year = static_cast<int>(year) - 1900;
  tm.tm_mon = mon;
  tm.tm_mday = static_cast<int>(day);
  tm.tm_hour = static_cast<int>(hh);
  tm.tm_min = static_cast<int>(mm);
  tm.tm_sec = static_cast<int>(ss);
  return static_cast<int64_t>(timegm(&tm)) - offset;
}

Result<Release> ParseRelease(std::string_view text) {
  std::vector<Stanza> st;
  Status s = ParseDeb822(text, &st);
  if (!s.ok()) return s.Prepend("Release");
  if (st.size() != 1) {
    return Corrupt("Release: " + std::to_string(st.size()) + " stanzas (expected one)");
  }
  const Stanza& r = st[0];
  Release out;
  out.origin = std::string(r.Get("Origin"));
  out.suite = std::string(r.Get("Suite"));
  out.codename = std::string(r.Get("Codename"));
  if (const auto* d = r.Find("Date")) {
    DFS_ASSIGN_OR_RETURN(int64_t t, ParseReleaseDate(*d));
    out.date = t;
  }
  if (const auto* d = r.Find("Valid-Until")) {
    DFS_ASSIGN_OR_RETURN(int64_t t, ParseReleaseDate(*d));
    out.valid_until = t;
  }
  const std::string_view* sha = r.Find("SHA256");
  if (sha == nullptr) return Corrupt("Release: no SHA256 field (older digests are not trusted)");
  std::vector<std::string_view> lines = FieldLines(*sha);
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].empty()) {
      if (i == 0) continue;
      return Corrupt("Release: an empty SHA256 line");
    }
    std::vector<std::string_view> w = SplitBlanks(lines[i]);
    ReleaseFile f;
    if (w.size() != 3 || !ParseU64(w[1], &f.size)) {
      return Corrupt("Release: SHA256 line '" + std::string(lines[i]) +
                     "' is not 'SHA256 SIZE PATH'");
    }
    auto d = Sha256FromHex(w[0]);
    if (!d.ok())
      return Corrupt("Release: SHA256 line for " + std::string(w[2]) + ": " + d.status().message());
    f.sha256 = std::move(*d);
    f.path = std::string(w[2]);
    std::string path = f.path;
    if (!out.files.emplace(path, std::move(f)).second) {
      return Corrupt("Release: " + path + " is listed twice under SHA256");
    }
  }
  return out;
}

Status ParsePackages(std::string_view text, std::vector<IndexEntry>* out, size_t* unusable) {
  std::vector<Stanza> st;
  DFS_RETURN_IF_ERROR(ParseDeb822(text, &st));
  for (const Stanza& s : st) {
    IndexEntry e;
    e.package = std::string(s.Get("Package"));
    e.version = std::string(s.Get("Version"));
    e.arch = std::string(s.Get("Architecture"));
    e.filename = std::string(s.Get("Filename"));
    e.multi_arch = std::string(s.Get("Multi-Arch"));
    auto d = Sha256FromHex(s.Get("SHA256"));
    if (e.package.empty() || e.version.empty() || e.arch.empty() || e.filename.empty() ||
        !ParseU64(s.Get("Size"), &e.size) || !d.ok()) {
      ++*unusable;
      continue;
    }
    e.sha256 = std::move(*d);
    out->push_back(std::move(e));
  }
  return Status::Ok();
}

Result<std::unique_ptr<AptIndex>> AptIndex::Load(const std::vector<ListDir>& dirs,
                                                 PgpVerifier& verifier,
                                                 const IndexLoadOptions& opts) {
  std::unique_ptr<AptIndex> idx(new AptIndex());
  const int64_t now = opts.now != 0 ? opts.now : static_cast<int64_t>(time(nullptr));
  for (const ListDir& dir : dirs) {
    DFS_ASSIGN_OR_RETURN(std::vector<std::string> names, ListNames(dir.fd, dir.name));
    std::set<std::string> name_set(names.begin(), names.end());
    // Verified Releases of this directory, by prefix.
    struct Verified {
      Release rel;
      std::string signer, file;
    };
    std::map<std::string, Verified> releases;
    std::map<std::string, std::string> failed;  // prefix -> the problem, for messages
    auto problem = [&](const std::string& file, Status s) {
      idx->problems_.push_back({file, std::move(s)});
    };
    std::set<std::string> prefixes;
    for (const std::string& n : names) {
      if (n.ends_with("_InRelease")) prefixes.insert(n.substr(0, n.size() - 9));
      if (n.ends_with("_Release")) prefixes.insert(n.substr(0, n.size() - 7));
    }
    for (const std::string& prefix : prefixes) {
      const std::string inrel = prefix + "InRelease", rel = prefix + "Release";
      Status first;
      std::string used;
      Result<VerifiedText> vt = Status(Code::kUnsigned, "no signature");
      auto read = [&](const std::string& name) -> Result<std::vector<uint8_t>> {
        DFS_ASSIGN_OR_RETURN(Fd fd, OpenFileAt(dir.fd, name, dir.name + "/" + name));
        return ReadAll(fd.get(), kMaxRelease, dir.name + "/" + name);
      };
      if (name_set.count(inrel)) {
        used = dir.name + "/" + inrel;
        auto data = read(inrel);
        vt = data.ok() ? verifier.VerifyClearsigned(*data) : Result<VerifiedText>(data.status());
        if (!vt.ok()) first = Status(vt.status()).Prepend(used);
      }
      if (!vt.ok() && name_set.count(rel)) {
        std::string relpath = dir.name + "/" + rel;
        auto data = read(rel);
        if (!data.ok()) {
          vt = data.status();
        } else if (!name_set.count(rel + ".gpg")) {
          vt = Status(Code::kUnsigned, "no signature (no InRelease, no Release.gpg)");
        } else {
          auto sig = read(rel + ".gpg");
          vt = sig.ok() ? verifier.VerifyDetached(*data, *sig) : Result<VerifiedText>(sig.status());
        }
        if (!vt.ok() && first.ok()) first = Status(vt.status()).Prepend(relpath);
        if (vt.ok() || used.empty()) used = relpath;
      }
      if (!vt.ok()) {
        failed[prefix] = first.ToString();
        problem(used, first);
        continue;
      }
      auto parsed = ParseRelease(vt->text);
      if (!parsed.ok()) {
        Status s = parsed.status();
        s.Prepend(used);
        failed[prefix] = s.ToString();
        problem(used, s);
        continue;
      }
      if (parsed->valid_until && *parsed->valid_until < now) {
        // The signature vouches for the text only until Valid-Until: a signature-class refusal.
        Status s(Code::kBadSignature, used + ": expired: Valid-Until " +
                                          FormatDate(*parsed->valid_until) + " has passed");
        failed[prefix] = s.ToString();
        problem(used, s);
        continue;
      }
      if (parsed->date && *parsed->date > now + 86400) {
        Status s(Code::kBadSignature,
                 used + ": not valid yet: Date " + FormatDate(*parsed->date) + " is in the future");
        failed[prefix] = s.ToString();
        problem(used, s);
        continue;
      }
      releases[prefix] = Verified{std::move(*parsed), vt->signer, used};
      ++idx->releases_;
    }
    // Packages files.
    for (const std::string& n : names) {
      std::string path = dir.name + "/" + n;
      // The longest prefix with a Release (prefixes of different suites cannot nest in practice,
      // but be exact).
      std::string prefix;
      for (const std::string& p : prefixes) {
        if (n.size() > p.size() && n.compare(0, p.size(), p) == 0 && p.size() > prefix.size() &&
            IsPackagesName(std::string_view(n).substr(p.size()))) {
          prefix = p;
        }
      }
      if (prefix.empty()) {
        if (IsPackagesName(n)) {
          problem(path, Status(Code::kUnsigned,
                               path + ": no signed Release in " + dir.name + " lists this index"));
        }
        continue;
      }
      auto rel = releases.find(prefix);
      if (rel == releases.end()) {
        problem(path, Status(Code::kUnsigned,
                             path + ": its Release is not usable (" + failed[prefix] + ")"));
        continue;
      }
      std::string relpath = RelPathOf(std::string_view(n).substr(prefix.size()));
      const auto& files = rel->second.rel.files;
      auto listed = files.find(relpath);
      // apt may keep an index compressed otherwise than the archive did (Packages.lz4 with
      // Acquire::GzipIndexes or lz4 settings): the Release then vouches for its uncompressed
      // content, listed under the path without the suffix.
      std::string plain_rel = relpath;
      for (const char* sfx : {".gz", ".xz", ".bz2", ".lz4", ".zst"}) {
        if (plain_rel.ends_with(sfx)) plain_rel.resize(plain_rel.size() - std::strlen(sfx));
      }
      auto listed_plain = plain_rel != relpath ? files.find(plain_rel) : files.end();
      if (listed == files.end() && listed_plain == files.end()) {
        problem(path, Status(Code::kCorrupt, path + ": " + rel->second.file + " does not list " +
                                                 relpath + " under SHA256" +
                                                 (plain_rel != relpath ? " (nor " + plain_rel + ")"
                                                                       : std::string())));
        continue;
      }
      auto fd = OpenFileAt(dir.fd, n, path);
      if (!fd.ok()) {
        problem(path, fd.status());
        continue;
      }
      auto data = ReadAll(fd->get(), kMaxPackages, path);
      if (!data.ok()) {
        problem(path, data.status());
        continue;
      }
      auto mismatch = [&](const Digest& got, uint64_t size, const ReleaseFile& want,
                          const std::string& what) {
        return Status(Code::kCorrupt,
                      path + ": SHA-256 " + what + got.Hex() + " (" + std::to_string(size) +
                          " bytes) does not match " + rel->second.file + "'s " + want.path + " (" +
                          want.sha256.Hex() + ", " + std::to_string(want.size) + " bytes)");
      };
      auto got = HashBytes(HashAlgo::kSha256, data->data(), data->size());
      if (!got.ok()) return got.status();
      const bool as_stored = listed != files.end() && *got == listed->second.sha256 &&
                             data->size() == listed->second.size;
      if (!as_stored && listed_plain == files.end()) {
        problem(path, mismatch(*got, data->size(), listed->second, ""));
        continue;
      }
      auto text = Decompress(*data, n);
      if (!text.ok()) {
        problem(path, Status(text.status()).Prepend(path));
        continue;
      }
      if (!as_stored) {
        auto plain = HashBytes(HashAlgo::kSha256, *text);
        if (!plain.ok()) return plain.status();
        if (*plain != listed_plain->second.sha256 || text->size() != listed_plain->second.size) {
          problem(path, mismatch(*plain, text->size(), listed_plain->second, "of its content "));
          continue;
        }
      }
      std::vector<IndexEntry> entries;
      size_t unusable = 0;
      Status ps = ParsePackages(*text, &entries, &unusable);
      if (!ps.ok()) {
        problem(path, ps.Prepend(path));
        continue;
      }
      ++idx->packages_files_;
      for (IndexEntry& e : entries) {
        e.index = path;
        e.signer = rel->second.signer;
        size_t i = idx->entries_.size();
        idx->by_key_.emplace(Key(e.package, e.version, e.arch), i);
        idx->by_sha_.emplace(DigestKey(e.sha256), i);
        idx->entries_.push_back(std::move(e));
      }
    }
  }
  return idx;
}

std::vector<const IndexEntry*> AptIndex::Find(std::string_view package, std::string_view version,
                                              std::string_view arch) const {
  std::vector<const IndexEntry*> out;
  auto [b, e] = by_key_.equal_range(Key(package, version, arch));
  for (auto it = b; it != e; ++it) out.push_back(&entries_[it->second]);
  return out;
}

std::vector<const IndexEntry*> AptIndex::FindBySha256(const Digest& d) const {
  std::vector<const IndexEntry*> out;
  auto [b, e] = by_sha_.equal_range(DigestKey(d));
  for (auto it = b; it != e; ++it) out.push_back(&entries_[it->second]);
  return out;
}

Status AptIndex::NotListed(std::string_view what) const {
  std::string m = "no signed index lists " + std::string(what);
  if (releases_ == 0 && problems_.empty()) m += " (no Release files found)";
  if (!problems_.empty()) {
    m += "; unusable indexes: ";
    for (size_t i = 0; i < problems_.size() && i < 4; ++i) {
      m += (i ? "; " : "") + problems_[i].status.message();
    }
    if (problems_.size() > 4) m += "; and " + std::to_string(problems_.size() - 4) + " more";
  }
  Code c = Code::kNotFound;
  // When every index failed on its signature, the package is refused for that reason.
  bool all_sig = !problems_.empty() && packages_files_ == 0;
  for (const auto& p : problems_) {
    Code pc = p.status.code();
    if (pc != Code::kUnsigned && pc != Code::kNoKey && pc != Code::kBadSignature) all_sig = false;
  }
  if (all_sig) c = problems_.front().status.code();
  return Status(c, m);
}

}  // namespace dfs::apt
