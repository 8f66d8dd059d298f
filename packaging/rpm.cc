#include "packaging/rpm.h"

#include <fcntl.h>
#include <rpm/rpmcrypto.h>
#include <rpm/rpmdb.h>
#include <rpm/rpmfiles.h>
#include <rpm/rpmio.h>
#include <rpm/rpmlib.h>
#include <rpm/rpmmacro.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "common/digest.h"
#include "common/fd.h"
#include "crypto/hash.h"
#include "packaging/rpm_util.h"

namespace dfs {

using rpmutil::DigParamsPtr;
using rpmutil::HeaderPtr;
using rpmutil::KeyringPtr;
using rpmutil::MallocPtr;
using rpmutil::PubkeyPtr;
using rpmutil::TsPtr;

namespace {

constexpr uint8_t kHeaderMagic[8] = {0x8e, 0xad, 0xe8, 0x01, 0x00, 0x00, 0x00, 0x00};

// Owns an rpmtd's data.
struct Td {
  rpmtd_s td{};
  bool got = false;
  ~Td() {
    if (got) rpmtdFreeData(&td);
  }
  bool Get(Header h, rpmTagVal tag, headerGetFlags flags = HEADERGET_DEFAULT) {
    got = headerGet(h, tag, &td, flags | HEADERGET_ALLOC) == 1;
    return got;
  }
};

struct FdFree {
  void operator()(_FD_s* f) const { Fclose(f); }
};
using RpmFdPtr = std::unique_ptr<_FD_s, FdFree>;
struct FilesFree {
  void operator()(rpmfiles_s* f) const { rpmfilesFree(f); }
};
using FilesPtr = std::unique_ptr<rpmfiles_s, FilesFree>;
struct MiFree {
  void operator()(rpmdbMatchIterator_s* m) const { rpmdbFreeIterator(m); }
};
using MiPtr = std::unique_ptr<rpmdbMatchIterator_s, MiFree>;

std::string HeaderString(Header h, rpmTagVal tag) {
  MallocPtr<char> s(headerGetAsString(h, tag));
  return s ? std::string(s.get()) : std::string();
}

// Verified facts about one header's signature.
struct SigCheck {
  std::string signer;  // key id hex, empty if unsigned
  Digest blob_digest;  // SHA-256 of magic + immutable region
  bool is_signed = false;
  // The header rebuilt from the immutable region's bytes alone (the bytes the signature covers):
  // everything recorded is read from it. Null only for a legacy header without a region.
  HeaderPtr region;
};

// Rebuilds a header from the HEADERIMMUTABLE blob (index count, data size, entries, data, as
// headerGet returns the region tag). librpm's headerImport checks every entry's bounds. The
// result must hold the region and nothing else: reading its HEADERIMMUTABLE back must give the
// same bytes, so no entry of it lies outside what was hashed.
Result<HeaderPtr> RegionHeader(const uint8_t* blob, size_t len) {
  HeaderPtr r;
  {
    rpmutil::LogCapture cap;
    r.reset(headerImport(const_cast<uint8_t*>(blob), static_cast<unsigned int>(len),
                         HEADERIMPORT_COPY));
  }
  if (!r) return Status(Code::kCorrupt, "the signed immutable region is not a valid header");
  Td again;
  if (!again.Get(r.get(), RPMTAG_HEADERIMMUTABLE) || again.td.type != RPM_BIN_TYPE ||
      again.td.count != len || std::memcmp(again.td.data, blob, len) != 0) {
    return Status(Code::kCorrupt, "the signed immutable region does not describe itself exactly");
  }
  return r;
}

// Whether two tag data (from Td::Get) are the same value.
bool SameValue(const Td& a, const Td& b) {
  if (a.got != b.got) return false;
  if (!a.got) return true;
  if (a.td.type != b.td.type || a.td.count != b.td.count) return false;
  size_t n = a.td.count;
  switch (a.td.type) {
    case RPM_STRING_TYPE:
      return std::strcmp(static_cast<const char*>(a.td.data),
                         static_cast<const char*>(b.td.data)) == 0;
    case RPM_STRING_ARRAY_TYPE:
    case RPM_I18NSTRING_TYPE: {
      auto* x = static_cast<const char* const*>(a.td.data);
      auto* y = static_cast<const char* const*>(b.td.data);
      for (size_t i = 0; i < n; ++i) {
        if (std::strcmp(x[i], y[i]) != 0) return false;
      }
      return true;
    }
    case RPM_CHAR_TYPE:
    case RPM_INT8_TYPE:
    case RPM_BIN_TYPE:
      break;
    case RPM_INT16_TYPE:
      n *= 2;
      break;
    case RPM_INT32_TYPE:
      n *= 4;
      break;
    case RPM_INT64_TYPE:
      n *= 8;
      break;
    default:
      return false;
  }
  return std::memcmp(a.td.data, b.td.data, n) == 0;
}

// The tags an import item is built from. librpm lets entries appended after the signed region
// ("dribbles", which the rpmdb uses for install-time data) replace region entries of the same tag;
// a header where that happened for one of these is refused.
struct NamedTag {
  rpmTagVal tag;
  const char* name;
};
constexpr NamedTag kRecordedTags[] = {
    {RPMTAG_NAME, "NAME"},
    {RPMTAG_EPOCH, "EPOCH"},
    {RPMTAG_VERSION, "VERSION"},
    {RPMTAG_RELEASE, "RELEASE"},
    {RPMTAG_ARCH, "ARCH"},
    {RPMTAG_SOURCERPM, "SOURCERPM"},
    {RPMTAG_FILEDIGESTALGO, "FILEDIGESTALGO"},
    {RPMTAG_FILEDIGESTS, "FILEDIGESTS"},
    {RPMTAG_BASENAMES, "BASENAMES"},
    {RPMTAG_DIRNAMES, "DIRNAMES"},
    {RPMTAG_DIRINDEXES, "DIRINDEXES"},
    {RPMTAG_OLDFILENAMES, "OLDFILENAMES"},
    {RPMTAG_FILEMODES, "FILEMODES"},
    {RPMTAG_FILEFLAGS, "FILEFLAGS"},
    {RPMTAG_PAYLOADDIGEST, "PAYLOADDIGEST"},
    {RPMTAG_PAYLOADDIGESTALGO, "PAYLOADDIGESTALGO"},
};

// kCorrupt naming every recorded tag whose value in the merged header differs from the region's.
Status CheckNoOverrides(Header merged, Header region) {
  std::string differ;
  for (const NamedTag& t : kRecordedTags) {
    Td a, b;
    a.Get(merged, t.tag, HEADERGET_RAW);
    b.Get(region, t.tag, HEADERGET_RAW);
    if (!SameValue(a, b)) differ += (differ.empty() ? "" : ",") + std::string(t.name);
  }
  if (differ.empty()) return Status::Ok();
  return Status(Code::kCorrupt, "tags outside the signed region override signed tags (" + differ +
                                    ") of " + HeaderString(region, RPMTAG_NEVRA) +
                                    ": the header was altered after signing, or the package "
                                    "was installed relocated");
}

// Verifies the header signature as described in rpm.h. Returns kUnsigned when there is none (the
// caller decides), with blob_digest and the region view filled in *out in every case where the
// region exists.
Status CheckHeaderSignature(Header h, rpmKeyring keyring, SigCheck* out) {
  Td region;
  if (!region.Get(h, RPMTAG_HEADERIMMUTABLE) || region.td.type != RPM_BIN_TYPE ||
      region.td.data == nullptr || region.td.count < 16) {
    if (headerIsEntry(h, RPMTAG_RSAHEADER) || headerIsEntry(h, RPMTAG_DSAHEADER)) {
      return Status(Code::kCorrupt, "signed header has no immutable region");
    }
    // A legacy (v3) header: no region, so nothing can be signed. Identify it by its export.
    unsigned int len = 0;
    MallocPtr<void> blob(headerExport(h, &len));
    auto d = HashBytes(HashAlgo::kSha256, blob.get(), blob ? len : 0);
    if (!d.ok()) return d.status();
    out->blob_digest = *d;
    return Status(Code::kUnsigned, "legacy header without an immutable region is not signed");
  }
  const auto* blob = static_cast<const uint8_t*>(region.td.data);
  size_t blob_len = region.td.count;
  auto hasher = Hasher::Create(HashAlgo::kSha256);
  if (!hasher.ok()) return hasher.status();
  hasher->Update(kHeaderMagic, sizeof kHeaderMagic);
  hasher->Update(blob, blob_len);
  out->blob_digest = hasher->Finish();
  DFS_ASSIGN_OR_RETURN(out->region, RegionHeader(blob, blob_len));

  int checked = 0;
  for (rpmTagVal tag : {RPMTAG_RSAHEADER, RPMTAG_DSAHEADER}) {
    Td sigtd;
    if (!sigtd.Get(h, tag)) continue;
    if (sigtd.td.type != RPM_BIN_TYPE || sigtd.td.data == nullptr) {
      return Status(Code::kBadSignature, "header signature tag has the wrong type");
    }
    pgpDigParams sig = nullptr;
    if (pgpPrtParams(static_cast<const uint8_t*>(sigtd.td.data), sigtd.td.count, PGPTAG_SIGNATURE,
                     &sig) != 0) {
      return Status(Code::kBadSignature,
                    "header signature is not a valid OpenPGP signature packet");
    }
    DigParamsPtr sig_owner(sig);
    std::string keyid = ToHex(pgpDigParamsSignID(sig), sizeof(pgpKeyID_t));
    unsigned hashalgo = pgpDigParamsAlgo(sig, PGPVAL_HASHALGO);
    DIGEST_CTX ctx = rpmDigestInit(hashalgo, RPMDIGEST_NONE);
    if (ctx == nullptr) {
      return Status(Code::kBadSignature,
                    "header signature uses unsupported hash algorithm " + std::to_string(hashalgo));
    }
    rpmDigestUpdate(ctx, kHeaderMagic, sizeof kHeaderMagic);
    rpmDigestUpdate(ctx, blob, blob_len);
    rpmRC rc;
    {
      rpmutil::LogCapture cap;
      rc = rpmKeyringVerifySig(keyring, sig, ctx);
    }
    rpmDigestFinal(ctx, nullptr, nullptr, 0);
    switch (rc) {
      case RPMRC_OK:
        break;
      case RPMRC_NOKEY:
        return Status(Code::kNoKey, "header signed by key " + keyid + ", which is not configured");
      case RPMRC_NOTTRUSTED:
        return Status(Code::kNoKey, "header signed by key " + keyid + ", which is not trusted");
      default:
        return Status(Code::kBadSignature,
                      "header signature by key " + keyid + " does not verify (BAD)");
    }
    if (out->signer.empty()) out->signer = keyid;
    ++checked;
  }
  if (checked == 0) return Status(Code::kUnsigned, "header is not signed (no RSAHEADER/DSAHEADER)");
  out->is_signed = true;
  return Status::Ok();
}

// What BuildItem reads of each file: names, modes, flags and digests. Everything else is left
// unparsed: less of a hostile header reaches librpm's file-info code, whose rpmfilesFree (4.18)
// frees tag data it did not allocate for some malformed headers (fuzz/regressions/
// rpm_header_fuzz/rpmfilesFree-bad-free).
constexpr rpmfiFlags kFilesFlags =
    RPMFI_KEEPHEADER | RPMFI_NOFILECLASS | RPMFI_NOFILEDEPS | RPMFI_NOFILELANGS |
    RPMFI_NOFILEUSER | RPMFI_NOFILEGROUP | RPMFI_NOFILESIZES | RPMFI_NOFILECAPS |
    RPMFI_NOFILELINKTOS | RPMFI_NOFILEMTIMES | RPMFI_NOFILERDEVS | RPMFI_NOFILEINODES |
    RPMFI_NOFILESTATES | RPMFI_NOFILECOLORS | RPMFI_NOFILEVERIFYFLAGS | RPMFI_NOFILESIGNATURES |
    RPMFI_NOVERITYSIGNATURES;

// Builds the import item from the region view of a header whose signature was checked (from the
// merged header only for a legacy header without a region, which is unsigned).
Result<ImportItem> BuildItem(Header merged, const SigCheck& sig, const std::string& origin,
                             const RpmImportOptions& opts) {
  Header h = sig.region ? sig.region.get() : merged;
  if (sig.region) DFS_RETURN_IF_ERROR(CheckNoOverrides(merged, h));
  if (headerIsSource(h)) {
    return Status(Code::kUnsupported,
                  "source packages (SRPM) install nothing and are not imported");
  }
  ImportItem item;
  SourceInfo& s = item.source;
  s.kind = SourceKind::kRpm;
  s.name = HeaderString(h, RPMTAG_NEVRA);
  s.package = HeaderString(h, RPMTAG_NAME);
  s.arch = HeaderString(h, RPMTAG_ARCH);
  s.version = HeaderString(h, RPMTAG_EVR);
  s.signer = sig.signer;
  s.blob_digest = sig.blob_digest;
  s.import_time = static_cast<int64_t>(time(nullptr));
  s.origin = origin;
  if (!sig.is_signed) s.flags |= kSourceUnsigned;

  uint32_t pgp_algo = static_cast<uint32_t>(headerGetNumber(h, RPMTAG_FILEDIGESTALGO));
  if (pgp_algo == 0) pgp_algo = 1;  // absent: MD5
  HashAlgo algo = HashAlgoFromPgpId(pgp_algo);

  FilesPtr files(rpmfilesNew(nullptr, h, RPMTAG_BASENAMES, kFilesFlags));
  rpm_count_t fc = files ? rpmfilesFC(files.get()) : 0;
  bool any_digest = false;
  for (rpm_count_t i = 0; i < fc; ++i) {
    int ix = static_cast<int>(i);
    rpmfileAttrs fflags = rpmfilesFFlags(files.get(), ix);
    if (fflags & RPMFILE_GHOST) continue;
    rpm_mode_t mode = rpmfilesFMode(files.get(), ix);
    if (!S_ISREG(mode)) continue;
    int dalgo = 0;
    size_t dlen = 0;
    const unsigned char* d = rpmfilesFDigest(files.get(), ix, &dalgo, &dlen);
    if (d == nullptr || dlen == 0) continue;  // a regular file without a digest: nothing to vouch
    if (!any_digest) {
      any_digest = true;
      if (algo == HashAlgo::kUnknown) {
        return Status(Code::kUnsupported,
                      "unknown file digest algorithm " + std::to_string(pgp_algo));
      }
      if (HashAlgoIsWeak(algo)) {
        if (!opts.allow_weak) {
          return Status(Code::kUnsupported,
                        "file digests use " + std::string(HashAlgoName(algo)) +
                            ", which is too weak (--allow-weak to import anyway)");
        }
        s.flags |= kSourceWeakAlgo;
      }
    }
    if (dlen != HashAlgoSize(algo)) {
      return Status(Code::kCorrupt, "file digest length " + std::to_string(dlen) +
                                        " does not match " + std::string(HashAlgoName(algo)));
    }
    FileEntry fe;
    fe.digest.algo = algo;
    fe.digest.bytes.assign(d, d + dlen);
    MallocPtr<char> fn(rpmfilesFN(files.get(), ix));
    fe.path = fn ? fn.get() : "";
    fe.mode = mode;
    if (fflags & RPMFILE_CONFIG) fe.flags |= kFileMutable | kFileConfig;
    if (fflags & RPMFILE_DOC) fe.flags |= kFileDoc;
    item.files.push_back(std::move(fe));
  }
  return item;
}

// Hashes everything left in `fd` and compares with the header's payload digest.
Status CheckPayload(Header h, FD_t fd, bool is_signed) {
  Td pd;
  if (!pd.Get(h, RPMTAG_PAYLOADDIGEST)) {
    if (!is_signed) return Status::Ok();  // nothing is vouched for anyway
    return Status(Code::kCorrupt, "signed header has no payload digest; payload cannot be checked");
  }
  const char* want = rpmtdGetString(&pd.td);
  uint32_t pgp = static_cast<uint32_t>(headerGetNumber(h, RPMTAG_PAYLOADDIGESTALGO));
  HashAlgo algo = pgp == 0 ? HashAlgo::kSha256 : HashAlgoFromPgpId(pgp);
  if (algo == HashAlgo::kUnknown || want == nullptr) {
    return Status(Code::kUnsupported,
                  "unsupported payload digest algorithm " + std::to_string(pgp));
  }
  DFS_ASSIGN_OR_RETURN(Hasher hasher, Hasher::Create(algo));
  std::vector<uint8_t> buf(1 << 20);
  for (;;) {
    ssize_t n = Fread(buf.data(), 1, buf.size(), fd);
    if (n < 0 || Ferror(fd)) return Status(Code::kIo, "reading the payload failed");
    if (n == 0) break;
    hasher.Update(buf.data(), static_cast<size_t>(n));
  }
  std::string got = hasher.Finish().Hex();
  if (got != want) {
    return Status(Code::kCorrupt, "payload " + std::string(HashAlgoName(algo)) +
                                      " digest BAD (expected " + want + ", got " + got + ")");
  }
  return Status::Ok();
}

// Verifies one installed header (no payload exists) and builds its item; errors name the NEVRA.
Result<ImportItem> ReadInstalled(Header h, rpmKeyring keyring, const std::string& origin,
                                 const RpmImportOptions& opts) {
  std::string what = "installed package " + HeaderString(h, RPMTAG_NEVRA);
  SigCheck sig;
  Status s = CheckHeaderSignature(h, keyring, &sig);
  if (s.code() == Code::kUnsigned && opts.allow_unsigned) s = Status::Ok();
  if (!s.ok()) return s.Prepend(what);
  auto item = BuildItem(h, sig, origin, opts);
  if (!item.ok()) {
    Status e = item.status();
    return e.Prepend(what);
  }
  return item;
}

}  // namespace

struct RpmImporter::Impl {
  KeyringPtr keyring;
};

RpmImporter::RpmImporter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RpmImporter::~RpmImporter() = default;

Result<std::unique_ptr<RpmImporter>> RpmImporter::Create(
    const std::vector<std::vector<uint8_t>>& pgp_keys) {
  DFS_RETURN_IF_ERROR(rpmutil::Init());
  auto impl = std::make_unique<Impl>();
  impl->keyring.reset(rpmKeyringNew());
  rpmutil::LogCapture cap;
  for (size_t i = 0; i < pgp_keys.size(); ++i) {
    PubkeyPtr key(rpmPubkeyNew(pgp_keys[i].data(), pgp_keys[i].size()));
    if (!key) {
      return Status(Code::kInvalidArgument,
                    "OpenPGP key #" + std::to_string(i) + " cannot be parsed by librpm");
    }
    rpmKeyringAddKey(impl->keyring.get(), key.get());
    int n = 0;
    rpmPubkey* subs = rpmGetSubkeys(key.get(), &n);
    for (int k = 0; k < n; ++k) {
      rpmKeyringAddKey(impl->keyring.get(), subs[k]);
      rpmPubkeyFree(subs[k]);
    }
    free(subs);
  }
  return std::unique_ptr<RpmImporter>(new RpmImporter(std::move(impl)));
}

Result<ImportItem> RpmImporter::ReadPackageFile(const std::string& path,
                                                const RpmImportOptions& opts) {
  auto fail = [&](Status s) { return s.Prepend(path); };
  Fd raw(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!raw) return fail(Status::FromErrno(errno, "open"));
  struct stat st;
  if (::fstat(raw.get(), &st) != 0) return fail(Status::FromErrno(errno, "stat"));
  if (!S_ISREG(st.st_mode)) return fail(Status(Code::kInvalidArgument, "not a regular file"));
  RpmFdPtr fd(fdDup(raw.get()));
  if (!fd) return fail(Status(Code::kIo, "fdDup failed"));
  TsPtr ts(rpmtsCreate());
  rpmtsSetVSFlags(ts.get(), RPMVSF_MASK_NODIGESTS | RPMVSF_MASK_NOSIGNATURES);
  Header hraw = nullptr;
  rpmRC rc;
  std::string log;
  {
    rpmutil::LogCapture cap;
    rc = rpmReadPackageFile(ts.get(), fd.get(), path.c_str(), &hraw);
    log = cap.Text();
  }
  HeaderPtr h(hraw);
  if (rc != RPMRC_OK && rc != RPMRC_NOKEY && rc != RPMRC_NOTTRUSTED) {
    return fail(
        Status(Code::kCorrupt, "not a readable RPM package" + (log.empty() ? "" : ": " + log)));
  }
  if (!h) return fail(Status(Code::kCorrupt, "no header"));
  SigCheck sig;
  Status s = CheckHeaderSignature(h.get(), impl_->keyring.get(), &sig);
  if (s.code() == Code::kUnsigned && opts.allow_unsigned) {
    s = Status::Ok();
  }
  if (!s.ok()) return fail(std::move(s));
  s = CheckPayload(sig.region ? sig.region.get() : h.get(), fd.get(), sig.is_signed);
  if (!s.ok()) return fail(std::move(s));
  auto item = BuildItem(h.get(), sig, path, opts);
  if (!item.ok()) return fail(item.status());
  return item;
}

Result<ImportItem> RpmImporter::ReadInstalledHeader(const uint8_t* data, size_t len,
                                                    const std::string& origin,
                                                    const RpmImportOptions& opts) {
  if (data == nullptr || len == 0) {
    return Status(Code::kCorrupt, origin + ": empty installed header");
  }
  // headerImport takes ownership of a malloc'd copy (HEADERIMPORT_COPY) and checks the blob's
  // bounds itself, as the rpmdb does for every header it loads.
  HeaderPtr h;
  {
    rpmutil::LogCapture cap;
    h.reset(headerImport(const_cast<uint8_t*>(data), static_cast<unsigned int>(len),
                         HEADERIMPORT_COPY));
  }
  if (!h) return Status(Code::kCorrupt, origin + ": not a readable rpm header");
  return ReadInstalled(h.get(), impl_->keyring.get(), origin, opts);
}

Result<std::string> RpmImporter::FindDbPath(const std::string& root, const std::string& dbpath) {
  auto has_db = [&](const std::string& p) {
    for (const char* f : {"rpmdb.sqlite", "Packages.db", "Packages"}) {
      struct stat st;
      if (::stat((root + p + "/" + f).c_str(), &st) == 0 && S_ISREG(st.st_mode)) return true;
    }
    return false;
  };
  if (!dbpath.empty()) {
    std::string p = dbpath.front() == '/' ? dbpath : "/" + dbpath;
    if (!has_db(p)) {
      return Status(Code::kNotFound, "no rpm database at " + root + p);
    }
    return p;
  }
  for (const char* p : {"/usr/lib/sysimage/rpm", "/var/lib/rpm"}) {
    if (has_db(p)) return std::string(p);
  }
  return Status(Code::kNotFound, "no rpm database under " + root +
                                     " (looked in /usr/lib/sysimage/rpm and /var/lib/rpm)");
}

Result<std::vector<RpmdbPackage>> RpmImporter::ReadRpmdb(
    const std::string& root_in, const std::string& dbpath_in, const RpmImportOptions& opts,
    const std::function<void(size_t)>& progress) {
  char* real = ::realpath(root_in.c_str(), nullptr);
  if (real == nullptr) return Status::FromErrno(errno, "root " + root_in);
  std::string root(real);
  free(real);
  if (root == "/") root.clear();
  DFS_ASSIGN_OR_RETURN(std::string dbpath, FindDbPath(root, dbpath_in));
  std::string backend;
  struct stat st;
  if (::stat((root + dbpath + "/rpmdb.sqlite").c_str(), &st) == 0) {
    backend = "sqlite";
  } else if (::stat((root + dbpath + "/Packages.db").c_str(), &st) == 0) {
    backend = "ndb";
  } else {
    backend = "bdb_ro";
  }
  rpmPushMacro(nullptr, "_dbpath", nullptr, dbpath.c_str(), RMIL_CMDLINE);
  rpmPushMacro(nullptr, "_db_backend", nullptr, backend.c_str(), RMIL_CMDLINE);
  struct PopMacros {
    ~PopMacros() {
      rpmPopMacro(nullptr, "_db_backend");
      rpmPopMacro(nullptr, "_dbpath");
    }
  } pop;
  std::vector<RpmdbPackage> out;
  TsPtr ts(rpmtsCreate());
  std::string rootdir = root.empty() ? "/" : root;
  rpmutil::LogCapture cap;
  if (rpmtsSetRootDir(ts.get(), rootdir.c_str()) != 0) {
    return Status(Code::kInvalidArgument, "cannot use " + rootdir + " as rpm root");
  }
  rpmtsSetVSFlags(ts.get(), RPMVSF_MASK_NODIGESTS | RPMVSF_MASK_NOSIGNATURES);
  if (rpmtsOpenDB(ts.get(), O_RDONLY) != 0) {
    return Status(Code::kIo, "cannot open the rpm database " + root + dbpath + ": " + cap.Text());
  }
  MiPtr mi(rpmtsInitIterator(ts.get(), RPMDBI_PACKAGES, nullptr, 0));
  if (!mi) return out;  // an empty database
  std::string origin_prefix = "rpmdb:" + root + dbpath + ":";
  while (Header h = rpmdbNextIterator(mi.get())) {  // h is owned by the iterator
    std::string name = HeaderString(h, RPMTAG_NAME);
    if (name == "gpg-pubkey") continue;
    RpmdbPackage pkg;
    pkg.nevra = HeaderString(h, RPMTAG_NEVRA);
    pkg.item = ReadInstalled(h, impl_->keyring.get(), origin_prefix + pkg.nevra, opts);
    out.push_back(std::move(pkg));
    if (progress) progress(out.size());
  }
  return out;
}

}  // namespace dfs
