// Verdicts of the RPM importer on the upstream corpus (../shared/corpus/rpm-upstream/README.txt),
// with the keys rpm 4.18 can import: rpm.org-rsa-2048-test.pub and rpm.org-ed25519-test.pub.
#include <gtest/gtest.h>
#include <rpm/header.h>
#include <rpm/rpmlib.h>
#include <rpm/rpmtag.h>
#include <rpm/rpmtd.h>
#include <rpm/rpmts.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <string>

#include "packaging/file_util.h"
#include "packaging/keys.h"
#include "packaging/rpm.h"

namespace dfs {
namespace {

// DFS_CORPUS overrides the location (a worktree checked out elsewhere than the main tree).
const std::string kCorpus =
    getenv("DFS_CORPUS") ? getenv("DFS_CORPUS") : DFS_SOURCE_DIR "/../shared/corpus/rpm-upstream";

class RpmImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    struct stat st;
    if (::stat(kCorpus.c_str(), &st) != 0) GTEST_SKIP() << "corpus not found at " << kCorpus;
    std::vector<std::vector<uint8_t>> keys;
    for (const char* k : {"rpm.org-rsa-2048-test.pub", "rpm.org-ed25519-test.pub"}) {
      auto data = ReadFileLimited(kCorpus + "/keys/" + k, 1 << 20);
      ASSERT_TRUE(data.ok()) << data.status().ToString();
      auto info = ParseKey(*data);
      ASSERT_TRUE(info.ok()) << k << ": " << info.status().ToString();
      keys.push_back(info->data);
    }
    auto imp = RpmImporter::Create(keys);
    ASSERT_TRUE(imp.ok()) << imp.status().ToString();
    importer_ = std::move(*imp);
  }
  Result<ImportItem> Read(const std::string& rel, RpmImportOptions opts = {}) {
    return importer_->ReadPackageFile(kCorpus + "/" + rel, opts);
  }
  std::unique_ptr<RpmImporter> importer_;
};

TEST_F(RpmImportTest, SignedPackagesVerify) {
  for (const char* p :
       {"RPMS/hello-2.0-1.x86_64-signed.rpm", "RPMS/hello-2.0-1.x86_64-v3-signed.rpm",
        "RPMS/hello-2.0-1.x86_64-badima.rpm", "RPMS/hello-2.0-1.x86_64-signed-mldsa87.rpm",
        "RPMS/hlinktest-1.0-1.noarch-v3sig.rpm"}) {
    auto item = Read(p);
    ASSERT_TRUE(item.ok()) << p << ": " << item.status().ToString();
    EXPECT_EQ(item->source.signer, "4344591e1964c5fc") << p;
    EXPECT_EQ(item->source.flags & kSourceUnsigned, 0u);
    EXPECT_FALSE(item->files.empty()) << p;
    for (const auto& f : item->files) {
      EXPECT_EQ(f.digest.algo, HashAlgo::kSha256) << p << " " << f.path;
      EXPECT_EQ(f.digest.bytes.size(), 32u);
      EXPECT_EQ(f.path.front(), '/');
    }
  }
}

TEST_F(RpmImportTest, HelloSignedFields) {
  auto item = Read("RPMS/hello-2.0-1.x86_64-signed.rpm");
  ASSERT_TRUE(item.ok()) << item.status().ToString();
  const SourceInfo& s = item->source;
  EXPECT_EQ(s.kind, SourceKind::kRpm);
  EXPECT_EQ(s.name, "hello-2.0-1.x86_64");
  EXPECT_EQ(s.package, "hello");
  EXPECT_EQ(s.arch, "x86_64");
  EXPECT_EQ(s.version, "2.0-1");
  EXPECT_EQ(s.blob_digest.algo, HashAlgo::kSha256);
  bool saw_bin = false;
  for (const auto& f : item->files) {
    if (f.path == "/usr/bin/hello") {
      saw_bin = true;
      EXPECT_TRUE(S_ISREG(f.mode));
      EXPECT_EQ(f.flags & kFileConfig, 0u);
    }
  }
  EXPECT_TRUE(saw_bin);
  // The same header in a differently signed file has the same signed blob only if the signature
  // covers the same immutable region: v3-signed was re-signed, but the header is the same build.
  auto again = Read("RPMS/hello-2.0-1.x86_64-signed.rpm");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->source.blob_digest, s.blob_digest);
}

TEST_F(RpmImportTest, UnknownKeysAreNoKey) {
  for (const char* p : {"RPMS/hello-2.0-1.x86_64-signed-with-subkey.rpm",
                        "RPMS/hello-2.0-1.x86_64-signed-with-new-subkey.rpm",
                        "RPMS/mwe-rpm-lua-problem-1.0.0-1.noarch.rpm"}) {
    auto item = Read(p);
    ASSERT_FALSE(item.ok()) << p;
    EXPECT_EQ(item.status().code(), Code::kNoKey) << p << ": " << item.status().ToString();
    EXPECT_NE(item.status().message().find(p), std::string::npos) << "names the file";
  }
}

TEST_F(RpmImportTest, CorruptedAndTamperedAreRefused) {
  auto c = Read("RPMS/hello-2.0-1.x86_64-corrupted.rpm");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kCorrupt) << c.status().ToString();
  EXPECT_NE(c.status().message().find("payload"), std::string::npos);
  auto tp = Read("derived/hello-2.0-1.x86_64-signed-TAMPERED-payload.rpm");
  ASSERT_FALSE(tp.ok());
  EXPECT_EQ(tp.status().code(), Code::kCorrupt) << tp.status().ToString();
  auto th = Read("derived/hello-2.0-1.x86_64-signed-TAMPERED-header.rpm");
  ASSERT_FALSE(th.ok());
  EXPECT_TRUE(th.status().code() == Code::kBadSignature || th.status().code() == Code::kCorrupt)
      << th.status().ToString();
  // Even allowing unsigned packages does not let a tampered signed package in.
  RpmImportOptions lax;
  lax.allow_unsigned = true;
  lax.allow_weak = true;
  EXPECT_FALSE(Read("derived/hello-2.0-1.x86_64-signed-TAMPERED-payload.rpm", lax).ok());
  EXPECT_FALSE(Read("derived/hello-2.0-1.x86_64-signed-TAMPERED-header.rpm", lax).ok());
  EXPECT_FALSE(Read("RPMS/hello-2.0-1.x86_64-corrupted.rpm", lax).ok());
}

const char* kUnsigned[] = {"RPMS/hello-2.0-1.x86_64.rpm",
                           "RPMS/hello-2.0-1.i686.rpm",
                           "RPMS/capstest-1.0-1.noarch.rpm",
                           "RPMS/imatest-1.0-1.fc34.noarch.rpm",
                           "RPMS/hlinktest-1.0-1.noarch.rpm",
                           "RPMS/foo-1.0-1.noarch.rpm",
                           "RPMS/obsolete-foo-1.0-1.noarch.rpm",
                           "RPMS/luafork-1.0-1.noarch.rpm",
                           "RPMS/luafork-1.0-1-deprecated.noarch.rpm",
                           "RPMS/hello-1.0-1.i386.rpm",
                           "RPMS/hello-1.0-1.ppc64.rpm",
                           "RPMS/hello-1.0-1.x86_64.rpm-v3",
                           "SRPMS/foo-1.0-1.src.rpm",
                           "SRPMS/hello-1.0-1.src.rpm"};

TEST_F(RpmImportTest, UnsignedAreRefusedByDefault) {
  for (const char* p : kUnsigned) {
    auto item = Read(p);
    ASSERT_FALSE(item.ok()) << p;
    EXPECT_EQ(item.status().code(), Code::kUnsigned) << p << ": " << item.status().ToString();
  }
}

TEST_F(RpmImportTest, AllowUnsignedRecordsTheFlagAndWeakNeedsItsOwnOverride) {
  RpmImportOptions o;
  o.allow_unsigned = true;
  auto ok = Read("RPMS/hello-2.0-1.x86_64.rpm", o);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_NE(ok->source.flags & kSourceUnsigned, 0u);
  EXPECT_TRUE(ok->source.signer.empty());
  auto weak = Read("RPMS/hello-1.0-1.i386.rpm", o);
  ASSERT_FALSE(weak.ok());
  EXPECT_EQ(weak.status().code(), Code::kUnsupported) << weak.status().ToString();
  o.allow_weak = true;
  auto weak_ok = Read("RPMS/hello-1.0-1.i386.rpm", o);
  ASSERT_TRUE(weak_ok.ok()) << weak_ok.status().ToString();
  EXPECT_NE(weak_ok->source.flags & kSourceWeakAlgo, 0u);
  ASSERT_FALSE(weak_ok->files.empty());
  EXPECT_EQ(weak_ok->files[0].digest.algo, HashAlgo::kMd5);
}

TEST_F(RpmImportTest, NotAPackage) {
  auto item = importer_->ReadPackageFile(kCorpus + "/README.txt", {});
  ASSERT_FALSE(item.ok());
  EXPECT_EQ(item.status().code(), Code::kCorrupt) << item.status().ToString();
  auto missing = importer_->ReadPackageFile(kCorpus + "/nope.rpm", {});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
}

TEST_F(RpmImportTest, EmptyKeyringGivesNoKey) {
  auto imp = RpmImporter::Create({});
  ASSERT_TRUE(imp.ok());
  auto item = (*imp)->ReadPackageFile(kCorpus + "/RPMS/hello-2.0-1.x86_64-signed.rpm", {});
  ASSERT_FALSE(item.ok());
  EXPECT_EQ(item.status().code(), Code::kNoKey) << item.status().ToString();
}

}  // namespace
}  // namespace dfs

namespace dfs {
namespace {

// Every prefix and a spread of single-byte corruptions of a signed package are refused, never
// accepted and never a crash.
TEST_F(RpmImportTest, TruncatedAndCorruptedCopiesAreRefused) {
  auto data = ReadFileLimited(kCorpus + "/RPMS/hello-2.0-1.x86_64-signed.rpm", 1 << 22);
  ASSERT_TRUE(data.ok());
  char tmpl[] = "/tmp/dfs-rpmcut.XXXXXX";
  int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  close(fd);
  std::string p = tmpl;
  RpmImportOptions lax;
  lax.allow_unsigned = true;
  lax.allow_weak = true;
  size_t n = data->size();
  // The main header starts at the second header magic; before it are the lead and the signature
  // header, parts of which (e.g. reserved space) nothing signs.
  const uint8_t magic[] = {0x8e, 0xad, 0xe8, 0x01};
  size_t main_header = 0;
  for (size_t i = 97; i + 4 <= n; ++i) {
    if (std::equal(magic, magic + 4, data->begin() + i)) {
      main_header = i;
      break;
    }
  }
  ASSERT_GT(main_header, 96u);
  for (size_t cut = 0; cut < n; cut += (cut < 6000 ? 97 : 401)) {
    std::vector<uint8_t> part(data->begin(), data->begin() + cut);
    ASSERT_TRUE(WriteFileAtomic(p, part).ok());
    auto r = importer_->ReadPackageFile(p, lax);
    EXPECT_FALSE(r.ok()) << "prefix of " << cut << " bytes accepted";
  }
  for (size_t off = 0; off < n; off += 53) {
    std::vector<uint8_t> bad = *data;
    bad[off] ^= 0x5a;
    ASSERT_TRUE(WriteFileAtomic(p, bad).ok());
    auto r = importer_->ReadPackageFile(p, {});
    // A flip in the unsigned parts of the signature header may leave the package valid; a flip in
    // the signed header or the payload must not.
    if (r.ok()) {
      EXPECT_LT(off, main_header) << "corruption at " << off << " accepted";
    }
  }
  unlink(p.c_str());
}

}  // namespace
}  // namespace dfs

// Installed (rpmdb) headers may carry "dribble" entries after the signed immutable region, and
// librpm lets a dribble replace the region entry of the same tag. An untrusted rpmdb must not be
// able to keep a vendor's signed region and append its own file digests, names, modes or flags.

namespace dfs {
namespace {

struct HdrFree {
  void operator()(headerToken_s* h) const { headerFree(h); }
};
using Hdr = std::unique_ptr<headerToken_s, HdrFree>;

// The main header of a corpus package as librpm reads it (signature tags merged in as dribbles,
// which is also how rpm stores it in the rpmdb).
Hdr LoadHeader(const std::string& path) {
  FD_t fd = Fopen(path.c_str(), "r.ufdio");
  if (fd == nullptr || Ferror(fd)) return nullptr;
  rpmts ts = rpmtsCreate();
  rpmtsSetVSFlags(ts, RPMVSF_MASK_NODIGESTS | RPMVSF_MASK_NOSIGNATURES);
  Header h = nullptr;
  rpmRC rc = rpmReadPackageFile(ts, fd, path.c_str(), &h);
  rpmtsFree(ts);
  Fclose(fd);
  if (rc != RPMRC_OK && rc != RPMRC_NOKEY && rc != RPMRC_NOTTRUSTED) {
    headerFree(h);
    return nullptr;
  }
  return Hdr(h);
}

std::vector<uint8_t> Export(Header h) {
  unsigned int len = 0;
  void* blob = headerExport(h, &len);
  std::vector<uint8_t> out;
  if (blob != nullptr) out.assign(static_cast<uint8_t*>(blob), static_cast<uint8_t*>(blob) + len);
  free(blob);
  return out;
}

// Replaces the value at `index` of a string-array tag (e.g. FILEDIGESTS) with `one`; headerMod
// turns a region entry into a dribble.
void ModStrings(Header h, rpmTagVal tag, size_t index, const std::string& one) {
  rpmtd_s td;
  ASSERT_EQ(headerGet(h, tag, &td, HEADERGET_ALLOC), 1) << "tag " << tag;
  std::vector<std::string> vals;
  while (const char* s = rpmtdNextString(&td)) vals.emplace_back(s);
  rpmtdFreeData(&td);
  ASSERT_LT(index, vals.size());
  vals[index] = one;
  std::vector<const char*> ptrs;
  for (const auto& v : vals) ptrs.push_back(v.c_str());
  rpmtd_s nt;
  rpmtdReset(&nt);
  nt.tag = tag;
  nt.type = RPM_STRING_ARRAY_TYPE;
  nt.data = ptrs.data();
  nt.count = static_cast<rpm_count_t>(ptrs.size());
  ASSERT_EQ(headerMod(h, &nt), 1);
}

void ModUint32(Header h, rpmTagVal tag, size_t index, uint32_t value) {
  rpmtd_s td;
  ASSERT_EQ(headerGet(h, tag, &td, HEADERGET_ALLOC), 1) << "tag " << tag;
  std::vector<uint32_t> vals(static_cast<uint32_t*>(td.data),
                             static_cast<uint32_t*>(td.data) + td.count);
  rpmtdFreeData(&td);
  ASSERT_LT(index, vals.size());
  vals[index] = value;
  rpmtd_s nt;
  rpmtdReset(&nt);
  nt.tag = tag;
  nt.type = RPM_INT32_TYPE;
  nt.data = vals.data();
  nt.count = static_cast<rpm_count_t>(vals.size());
  ASSERT_EQ(headerMod(h, &nt), 1);
}

// Index of /usr/bin/hello in the header's file list.
size_t HelloIndex(Header h) {
  rpmtd_s td;
  EXPECT_EQ(headerGet(h, RPMTAG_BASENAMES, &td, HEADERGET_ALLOC), 1);
  size_t i = 0, found = SIZE_MAX;
  while (const char* s = rpmtdNextString(&td)) {
    if (std::string(s) == "hello") found = i;
    ++i;
  }
  rpmtdFreeData(&td);
  return found;
}

std::string Format(Header h, const std::string& qf) {
  errmsg_t err = nullptr;
  char* s = headerFormat(h, qf.c_str(), &err);
  std::string out = s ? s : std::string("error: ") + (err ? err : "");
  free(s);
  return out;
}

const std::string kEvil(64, 'e');  // an attacker's SHA-256, hex

TEST_F(RpmImportTest, InstalledHeaderBaselineVerifies) {
  Hdr h = LoadHeader(kCorpus + "/RPMS/hello-2.0-1.x86_64-signed.rpm");
  ASSERT_TRUE(h);
  auto blob = Export(h.get());
  auto item = importer_->ReadInstalledHeader(blob.data(), blob.size(), "test", {});
  ASSERT_TRUE(item.ok()) << item.status().ToString();
  EXPECT_EQ(item->source.signer, "4344591e1964c5fc");
  EXPECT_EQ(item->source.name, "hello-2.0-1.x86_64");
  auto pkg = Read("RPMS/hello-2.0-1.x86_64-signed.rpm");
  ASSERT_TRUE(pkg.ok());
  EXPECT_EQ(item->source.blob_digest, pkg->source.blob_digest);
  ASSERT_EQ(item->files.size(), pkg->files.size());
  for (size_t i = 0; i < pkg->files.size(); ++i) {
    EXPECT_EQ(item->files[i].path, pkg->files[i].path);
    EXPECT_EQ(item->files[i].digest, pkg->files[i].digest);
  }
}

// Each tamper keeps the signed region and overrides one security-relevant tag with a dribble.
// The importer must refuse the header; it must never vouch for the attacker's values.
TEST_F(RpmImportTest, InstalledHeaderDribbleOverridesAreRefused) {
  struct Tamper {
    const char* what;
    std::function<void(Header, size_t)> apply;
  };
  std::vector<Tamper> tampers = {
      {"FILEDIGESTS", [](Header h, size_t i) { ModStrings(h, RPMTAG_FILEDIGESTS, i, kEvil); }},
      {"BASENAMES", [](Header h, size_t i) { ModStrings(h, RPMTAG_BASENAMES, i, "evil"); }},
      {"FILEFLAGS", [](Header h, size_t i) { ModUint32(h, RPMTAG_FILEFLAGS, i, RPMFILE_CONFIG); }},
      {"NAME",
       [](Header h, size_t) {
         ASSERT_EQ(headerDel(h, RPMTAG_NAME), 0);
         ASSERT_EQ(headerPutString(h, RPMTAG_NAME, "evil"), 1);
       }},
  };
  auto pkg = Read("RPMS/hello-2.0-1.x86_64-signed.rpm");
  ASSERT_TRUE(pkg.ok()) << pkg.status().ToString();
  for (const auto& t : tampers) {
    SCOPED_TRACE(t.what);
    Hdr h = LoadHeader(kCorpus + "/RPMS/hello-2.0-1.x86_64-signed.rpm");
    ASSERT_TRUE(h);
    size_t ix = HelloIndex(h.get());
    ASSERT_NE(ix, SIZE_MAX);
    t.apply(h.get(), ix);
    auto blob = Export(h.get());
    // librpm itself applies the dribble when it loads the exported blob, as rpmdb reads do.
    Hdr back(headerImport(blob.data(), static_cast<unsigned>(blob.size()), HEADERIMPORT_COPY));
    ASSERT_TRUE(back);
    Hdr orig = LoadHeader(kCorpus + "/RPMS/hello-2.0-1.x86_64-signed.rpm");
    std::string qf = std::string("[%{") + t.what + "} ]";
    EXPECT_NE(Format(back.get(), qf), Format(orig.get(), qf)) << "the tamper took effect";
    auto item = importer_->ReadInstalledHeader(blob.data(), blob.size(), "test", {});
    if (item.ok()) {
      // Had it been accepted, it must describe exactly the signed package.
      EXPECT_EQ(item->source.name, pkg->source.name);
      ASSERT_EQ(item->files.size(), pkg->files.size());
      for (size_t i = 0; i < pkg->files.size(); ++i) {
        EXPECT_EQ(item->files[i].path, pkg->files[i].path);
        EXPECT_EQ(item->files[i].digest, pkg->files[i].digest);
        EXPECT_EQ(item->files[i].flags, pkg->files[i].flags);
        EXPECT_NE(item->files[i].digest.Hex(), kEvil);
      }
      ADD_FAILURE() << "a header whose dribble overrides " << t.what << " was accepted";
    } else {
      EXPECT_EQ(item.status().code(), Code::kCorrupt) << item.status().ToString();
      EXPECT_NE(item.status().message().find(t.what), std::string::npos)
          << "names the overridden tag: " << item.status().ToString();
      EXPECT_NE(item.status().message().find("hello-2.0-1.x86_64"), std::string::npos)
          << item.status().ToString();
    }
  }
}

// Package files: librpm requires the region to span the whole main header, so the same dribble
// in a package file's header is refused when the file is read.
TEST_F(RpmImportTest, PackageFileWithDribbleOverrideIsRefused) {
  const std::string path = kCorpus + "/RPMS/hello-2.0-1.x86_64-signed.rpm";
  auto data = ReadFileLimited(path, 1 << 22);
  ASSERT_TRUE(data.ok());
  auto be32 = [&](size_t off) {
    const uint8_t* p = data->data() + off;
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
  };
  // Lead (96 bytes), signature header (padded to 8), main header, payload.
  size_t sig = 96;
  size_t sig_end = sig + 16 + 16 * size_t{be32(sig + 8)} + be32(sig + 12);
  size_t main_hdr = (sig_end + 7) & ~size_t{7};
  size_t payload = main_hdr + 16 + 16 * size_t{be32(main_hdr + 8)} + be32(main_hdr + 12);
  ASSERT_LT(payload, data->size());

  // A header with only the main header's own tags (no merged signature tags), one dribble added.
  Hdr whole(headerImport(data->data() + main_hdr + 8, static_cast<unsigned>(payload - main_hdr - 8),
                         HEADERIMPORT_COPY));
  ASSERT_TRUE(whole);
  size_t ix = HelloIndex(whole.get());
  ASSERT_NE(ix, SIZE_MAX);
  ModStrings(whole.get(), RPMTAG_FILEDIGESTS, ix, kEvil);
  auto blob = Export(whole.get());
  std::vector<uint8_t> out(data->begin(), data->begin() + main_hdr);
  const uint8_t magic[8] = {0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0};
  out.insert(out.end(), magic, magic + 8);
  out.insert(out.end(), blob.begin(), blob.end());
  out.insert(out.end(), data->begin() + payload, data->end());

  char tmpl[] = "/tmp/dfs-rpmdribble.XXXXXX";
  int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  close(fd);
  ASSERT_TRUE(WriteFileAtomic(tmpl, out).ok());
  auto item = importer_->ReadPackageFile(tmpl, {});
  unlink(tmpl);
  if (item.ok()) {
    for (const auto& f : item->files) EXPECT_NE(f.digest.Hex(), kEvil) << f.path;
    ADD_FAILURE() << "package file with a dribble override accepted";
  } else {
    EXPECT_EQ(item.status().code(), Code::kCorrupt) << item.status().ToString();
  }
}

// A malformed installed header (found by fuzz/rpm_header_fuzz) whose file-class dictionary is not
// a string array: librpm 4.18's rpmfilesFree freed tag data that points into the header when the
// file info kept the header (a bad free; in the ASan build an abort). Read as `digestctl import
// rpmdb --allow-unsigned` would, it must give an answer, never corrupt the heap.
TEST_F(RpmImportTest, MalformedClassDictionaryIsNoBadFree) {
  auto blob = ReadFileLimited(
      std::string(DFS_SOURCE_DIR) + "/fuzz/regressions/rpm_header_fuzz/rpmfilesFree-bad-free",
      1 << 20);
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  dfs::RpmImportOptions lax;
  lax.allow_unsigned = true;
  lax.allow_weak = true;
  auto item = importer_->ReadInstalledHeader(blob->data(), blob->size(), "fuzz", lax);
  // Unsigned and accepted as such, or refused with a reason; either way the process survives.
  if (item.ok()) {
    EXPECT_TRUE(item->source.flags & dfs::kSourceUnsigned);
  } else {
    EXPECT_FALSE(item.status().message().empty());
  }
  auto strict = importer_->ReadInstalledHeader(blob->data(), blob->size(), "fuzz", {});
  EXPECT_FALSE(strict.ok()) << "an unsigned header was accepted without --allow-unsigned";
}

}  // namespace
}  // namespace dfs
