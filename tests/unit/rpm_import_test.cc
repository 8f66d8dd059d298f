// Verdicts of the RPM importer on the upstream corpus (../shared/corpus/rpm-upstream/README.txt),
// with the keys rpm 4.18 can import: rpm.org-rsa-2048-test.pub and rpm.org-ed25519-test.pub.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
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
