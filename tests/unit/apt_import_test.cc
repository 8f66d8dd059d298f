// apt/: the Debian chain (signed Release -> Packages -> .deb -> data.tar) on crafted archives
// signed with throwaway keys: the happy path and every refusal of the real-systems issue.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <memory>
#include <set>
#include <string>

#include "apt/deb.h"
#include "apt/deb822.h"
#include "apt/import.h"
#include "apt/index.h"
#include "apt/openpgp.h"
#include "packaging/keys.h"
#include "tests/unit/apt_test_util.h"

namespace dfs::apt {
namespace {

using testing::Deb;
using testing::DebSpec;
using testing::Gpg;
using testing::PackagesStanza;
using testing::ReleaseText;
using testing::TarMember;
using testing::WriteFile;

constexpr const char* kPrefix = "example.org_debian_dists_test_";
constexpr const char* kPackagesName = "main_binary-amd64_Packages";

std::string MakeTemp() {
  const char* t = std::getenv("TMPDIR");
  std::string tmpl = std::string(t && *t ? t : "/tmp") + "/apt-test-XXXXXX";
  std::vector<char> b(tmpl.begin(), tmpl.end());
  b.push_back('\0');
  return ::mkdtemp(b.data()) ? std::string(b.data()) : std::string();
}

class AptTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (std::system("command -v gpg >/dev/null 2>&1") != 0) return;
    tmp_ = MakeTemp();
    gpg_ = new Gpg(tmp_ + "/gnupg");
  }
  static void TearDownTestSuite() {
    delete gpg_;
    gpg_ = nullptr;
    if (!tmp_.empty()) (void)std::system(("rm -rf " + tmp_).c_str());
  }
  void SetUp() override {
    if (gpg_ == nullptr || !gpg_->ok()) GTEST_SKIP() << "SKIPPED: gpg cannot make test keys";
    dir_ = tmp_ + "/" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_EQ(::mkdir(dir_.c_str(), 0755), 0);
    lists_ = dir_ + "/lists";
    debs_ = dir_ + "/debs";
    ::mkdir(lists_.c_str(), 0755);
    ::mkdir(debs_.c_str(), 0755);
    auto v =
        PgpVerifier::Create({ToBytes(gpg_->PublicKey("good")), ToBytes(gpg_->PublicKey("old"))});
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    verifier_ = std::move(*v);
  }
  static std::vector<uint8_t> ToBytes(const std::string& s) {
    return std::vector<uint8_t>(s.begin(), s.end());
  }

  // Writes a .deb into debs_ and returns its path.
  std::string PutDeb(const std::string& name, const std::string& bytes) {
    std::string p = debs_ + "/" + name;
    EXPECT_TRUE(WriteFile(p, bytes));
    return p;
  }
  // Writes Packages (as `packages_name`) and a Release over it signed by `who` ("" unsigned).
  void PutIndex(const std::string& packages, const std::string& who = "good",
                const std::string& release_extra = "", bool inrelease = true,
                const std::string& packages_name = kPackagesName) {
    std::string rel_path = packages_name;
    for (char& c : rel_path) c = c == '_' ? '/' : c;
    std::string release = ReleaseText({{rel_path, packages}}, release_extra);
    WriteFile(lists_ + "/" + kPrefix + packages_name, packages);
    if (inrelease) {
      WriteFile(lists_ + "/" + kPrefix + "InRelease",
                who.empty() ? release : gpg_->Clearsign(release, who));
    } else {
      WriteFile(lists_ + "/" + kPrefix + "Release", release);
      if (!who.empty())
        WriteFile(lists_ + "/" + kPrefix + "Release.gpg", gpg_->Detach(release, who));
    }
  }
  Result<AptImportResult> ImportFiles(const std::vector<std::string>& files) {
    return ImportDebFiles(files, {lists_}, *verifier_, {});
  }
  // The one outcome of importing one file; asserts the call itself succeeded.
  Result<ImportItem> ImportOne(const std::string& file) {
    auto r = ImportFiles({file});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok() || r->packages.size() != 1) return Status(Code::kInternal, "no outcome");
    return std::move(r->packages[0].item);
  }

  static std::string tmp_;
  static Gpg* gpg_;
  std::string dir_, lists_, debs_;
  std::unique_ptr<PgpVerifier> verifier_;
};
std::string AptTest::tmp_;
Gpg* AptTest::gpg_ = nullptr;

const FileEntry* FindFile(const ImportItem& item, const std::string& path) {
  for (const auto& f : item.files) {
    if (f.path == path) return &f;
  }
  return nullptr;
}

// ---- deb822 ----

TEST(Deb822Test, StanzasFieldsAndContinuationLines) {
  std::string text =
      "Package: a\nVersion: 1\nDescription: short\n long line one\n .\n line three\n\n\n"
      "Package: a\r\nVersion: 2\r\nSHA256:\r\n abc 1 x\r\n def 2 y\r\n";
  std::vector<Stanza> st;
  ASSERT_TRUE(ParseDeb822(text, &st).ok());
  ASSERT_EQ(st.size(), 2u);
  EXPECT_EQ(st[0].Get("package"), "a");
  EXPECT_EQ(st[0].Get("Version"), "1");
  auto lines = FieldLines(st[0].Get("Description"));
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], "short");
  EXPECT_EQ(lines[1], "long line one");
  EXPECT_EQ(lines[2], ".");
  EXPECT_EQ(lines[3], "line three");
  EXPECT_EQ(st[1].Get("Version"), "2");
  auto sha = FieldLines(st[1].Get("SHA256"));
  ASSERT_EQ(sha.size(), 3u);
  EXPECT_EQ(sha[0], "");
  EXPECT_EQ(sha[1], "abc 1 x");
  EXPECT_EQ(sha[2], "def 2 y");
  EXPECT_EQ(st[1].line, 9u);
}

TEST(Deb822Test, MalformedInputIsRefusedWithItsLine) {
  std::vector<Stanza> st;
  Status s = ParseDeb822(" continuation first\n", &st);
  EXPECT_EQ(s.code(), Code::kCorrupt);
  EXPECT_NE(s.message().find("line 1"), std::string::npos) << s.message();
  s = ParseDeb822("Package: a\nPackage: b\n", &st);
  EXPECT_EQ(s.code(), Code::kCorrupt);
  EXPECT_NE(s.message().find("twice"), std::string::npos) << s.message();
  s = ParseDeb822("Package: a\nnot a field\n", &st);
  EXPECT_EQ(s.code(), Code::kCorrupt);
  EXPECT_NE(s.message().find("line 2"), std::string::npos) << s.message();
  EXPECT_EQ(ParseDeb822(std::string("Package: a\0b\n", 13), &st).code(), Code::kCorrupt);
  EXPECT_EQ(ParseDeb822("# comment\nPackage: a\n", &st).code(), Code::kCorrupt);
  st.clear();
  EXPECT_TRUE(ParseDeb822("# comment\nPackage: a\n", &st, {.comments = true}).ok());
  EXPECT_EQ(st.size(), 1u);
}

TEST(Deb822Test, ReleaseDatesAndSha256) {
  auto t = ParseReleaseDate("Sat, 11 Jul 2026 10:16:37 UTC");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, 1783764997);
  EXPECT_EQ(*ParseReleaseDate("Sat, 11 Jul 2026 12:16:37 +0200"), 1783764997);
  EXPECT_FALSE(ParseReleaseDate("11/07/2026").ok());
  auto r = ParseRelease(ReleaseText({{"main/binary-amd64/Packages", "x"}},
                                    "Valid-Until: Sat, 18 Jul 2026 10:16:37 UTC\n"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->files.size(), 1u);
  EXPECT_EQ(r->files.begin()->first, "main/binary-amd64/Packages");
  EXPECT_EQ(r->files.begin()->second.size, 1u);
  ASSERT_TRUE(r->valid_until.has_value());
  EXPECT_EQ(*r->valid_until, 1783764997 + 7 * 86400);
  EXPECT_EQ(ParseRelease("Origin: x\n").status().code(), Code::kCorrupt);  // no SHA256
  EXPECT_EQ(ParseRelease("Origin: x\nSHA256:\n zz 1 a\n").status().code(), Code::kCorrupt);
}

TEST(Deb822Test, DpkgStatusKeepsInstalledPackagesOnly) {
  std::string text =
      "Package: a\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\n\n"
      "Package: b\nStatus: deinstall ok config-files\nVersion: 1\nArchitecture: all\n\n"
      "Package: c\nStatus: install ok triggers-pending\nVersion: 2\nArchitecture: all\n\n"
      "Package: d\nStatus: install reinstreq half-installed\nVersion: 1\nArchitecture: all\n";
  std::vector<InstalledPackage> out;
  ASSERT_TRUE(ParseDpkgStatus(text, &out).ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].package, "a");
  EXPECT_EQ(out[1].package, "c");
}

// ---- .deb ----

TEST(DebTest, ReadsControlAndDataAndHashesEverything) {
  DebSpec spec;
  spec.data.push_back({"./usr/bin/hello-link", "", 0755, 'h', "./usr/bin/hello"});
  spec.data.push_back({"./usr/bin/hi", "hello", 0777, 'l'});
  std::string deb = Deb(spec);
  auto c = ParseDeb({reinterpret_cast<const uint8_t*>(deb.data()), deb.size()});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->deb_size, deb.size());
  EXPECT_EQ(c->deb_sha256.Hex(), testing::Sha256Hex(deb));
  EXPECT_EQ(c->data_member, "data.tar.xz");
  ASSERT_EQ(c->files.size(), 3u);  // hello, hello.conf, the hard link; not dirs or the symlink
  EXPECT_EQ(c->files[0].path, "/usr/bin/hello");
  EXPECT_EQ(c->files[0].digest.Hex(), testing::Sha256Hex("#!/bin/sh\necho hello\n"));
  EXPECT_EQ(c->files[2].path, "/usr/bin/hello-link");
  EXPECT_EQ(c->files[2].digest, c->files[0].digest);
  EXPECT_EQ(c->conffiles, "/etc/hello.conf\n");
  ASSERT_EQ(c->control_files.size(), 4u);  // control, postinst, conffiles, md5sums
  EXPECT_EQ(c->control_files[1].path, "postinst");
}

TEST(DebTest, EveryCompressionDpkgWrites) {
  for (const char* comp : {"xz", "gz", "zst", ""}) {
    DebSpec spec;
    spec.data_compression = comp;
    spec.control_compression = comp;
    std::string deb = Deb(spec);
    auto c = ParseDeb({reinterpret_cast<const uint8_t*>(deb.data()), deb.size()});
    ASSERT_TRUE(c.ok()) << comp << ": " << c.status().ToString();
    EXPECT_EQ(c->files.size(), 2u) << comp;
  }
}

TEST(DebTest, CompressionMustMatchTheMemberName) {
  DebSpec spec;
  std::string deb =
      testing::Ar({{"debian-binary", "2.0\n"},
                   {"control.tar.gz", testing::Tar({{"./control", "Package: x\n"}}, "xz")},
                   {"data.tar.xz", testing::Tar({}, "xz")}});
  auto c = ParseDeb({reinterpret_cast<const uint8_t*>(deb.data()), deb.size()});
  EXPECT_EQ(c.status().code(), Code::kCorrupt) << c.status().ToString();
}

TEST(DebTest, NotADebTruncatedAndBadOrder) {
  auto parse = [](const std::string& b) {
    return ParseDeb({reinterpret_cast<const uint8_t*>(b.data()), b.size()});
  };
  EXPECT_EQ(parse("hello, world\n").status().code(), Code::kCorrupt);
  EXPECT_EQ(parse("").status().code(), Code::kCorrupt);
  std::string deb = Deb(DebSpec());
  for (size_t cut : {deb.size() / 2, deb.size() - 7, size_t{70}}) {
    auto c = parse(deb.substr(0, cut));
    EXPECT_EQ(c.status().code(), Code::kCorrupt) << cut << ": " << c.status().ToString();
  }
  std::string swapped =
      testing::Ar({{"debian-binary", "2.0\n"},
                   {"data.tar.xz", testing::Tar({}, "xz")},
                   {"control.tar.xz", testing::Tar({{"./control", "P: x\n"}}, "xz")}});
  EXPECT_EQ(parse(swapped).status().code(), Code::kCorrupt);
  std::string v3 = testing::Ar({{"debian-binary", "3.0\n"}});
  EXPECT_NE(parse(v3).status().message().find("format"), std::string::npos);
}

TEST(DebTest, UnsafeMemberNamesAreRefused) {
  for (const char* bad : {"./../etc/passwd", "/etc/passwd", "./usr/../../x", "usr/.."}) {
    DebSpec spec;
    spec.data.push_back({bad, "x", 0644});
    std::string deb = Deb(spec);
    auto c = ParseDeb({reinterpret_cast<const uint8_t*>(deb.data()), deb.size()});
    EXPECT_EQ(c.status().code(), Code::kCorrupt) << bad;
    EXPECT_NE(c.status().message().find("data.tar.xz"), std::string::npos) << c.status().message();
  }
  DebSpec spec;
  spec.data.push_back({"./usr/bin/evil", "", 0644, 'h', "../../etc/shadow"});
  std::string deb = Deb(spec);
  EXPECT_EQ(ParseDeb({reinterpret_cast<const uint8_t*>(deb.data()), deb.size()}).status().code(),
            Code::kCorrupt);
  DebSpec ctl;
  ctl.control_members.push_back({"./../postinst", "x", 0755});
  deb = Deb(ctl);
  EXPECT_EQ(ParseDeb({reinterpret_cast<const uint8_t*>(deb.data()), deb.size()}).status().code(),
            Code::kCorrupt);
}

TEST(DebTest, NormalizeMemberName) {
  EXPECT_EQ(*NormalizeMemberName("./usr/bin/x"), "/usr/bin/x");
  EXPECT_EQ(*NormalizeMemberName("./"), "/");
  EXPECT_EQ(*NormalizeMemberName("usr//./bin/x"), "/usr/bin/x");
  EXPECT_FALSE(NormalizeMemberName("/abs").ok());
  EXPECT_FALSE(NormalizeMemberName("a/../b").ok());
  EXPECT_FALSE(NormalizeMemberName("").ok());
}

// ---- the chain ----

TEST_F(AptTest, SignedPackageIsImportedWithItsFilesConffilesAndScripts) {
  DebSpec spec;
  std::string deb = Deb(spec);
  std::string path = PutDeb("hello_1.0-1_amd64.deb", deb);
  PutIndex(PackagesStanza(spec, deb, "pool/main/h/hello/hello_1.0-1_amd64.deb"));
  auto item = ImportOne(path);
  ASSERT_TRUE(item.ok()) << item.status().ToString();
  const SourceInfo& s = item->source;
  EXPECT_EQ(s.kind, SourceKind::kDeb);
  EXPECT_EQ(s.name, "hello_1.0-1_amd64");
  EXPECT_EQ(s.package, "hello");
  EXPECT_EQ(s.version, "1.0-1");
  EXPECT_EQ(s.arch, "amd64");
  EXPECT_EQ(s.blob_digest.Hex(), testing::Sha256Hex(deb));
  EXPECT_EQ(s.origin, path);
  EXPECT_EQ(s.signer.size(), 16u);
  const FileEntry* bin = FindFile(*item, "/usr/bin/hello");
  ASSERT_NE(bin, nullptr);
  EXPECT_EQ(bin->flags, 0u);
  EXPECT_EQ(bin->mode & 07777, 0755u);
  const FileEntry* conf = FindFile(*item, "/etc/hello.conf");
  ASSERT_NE(conf, nullptr);
  EXPECT_EQ(conf->flags, kFileMutable | kFileConfig);
  const FileEntry* post = FindFile(*item, "/var/lib/dpkg/info/hello.postinst");
  ASSERT_NE(post, nullptr);
  EXPECT_EQ(post->digest.Hex(), testing::Sha256Hex("#!/bin/sh\necho configured\n"));
  EXPECT_NE(FindFile(*item, "/var/lib/dpkg/info/hello.conffiles"), nullptr);
  EXPECT_NE(FindFile(*item, "/var/lib/dpkg/info/hello.md5sums"), nullptr);
  EXPECT_EQ(FindFile(*item, "/var/lib/dpkg/info/hello.control"), nullptr);
  EXPECT_EQ(item->files.size(), 5u);
}

TEST_F(AptTest, MultiArchSameScriptsAreArchQualified) {
  DebSpec spec;
  spec.control_extra = "Multi-Arch: same\n";
  spec.control_members.push_back({"./triggers", "activate-noawait ldconfig\n", 0644});
  spec.control_members.push_back({"./shlibs.local", "ignored: has a dot\n", 0644});
  std::string deb = Deb(spec);
  std::string path = PutDeb("hello.deb", deb);
  PutIndex(PackagesStanza(spec, deb, "pool/hello.deb"));
  auto item = ImportOne(path);
  ASSERT_TRUE(item.ok()) << item.status().ToString();
  EXPECT_NE(FindFile(*item, "/var/lib/dpkg/info/hello:amd64.postinst"), nullptr);
  EXPECT_NE(FindFile(*item, "/var/lib/dpkg/info/hello:amd64.triggers"), nullptr);
  EXPECT_EQ(FindFile(*item, "/var/lib/dpkg/info/hello.postinst"), nullptr);
  EXPECT_EQ(FindFile(*item, "/var/lib/dpkg/info/hello:amd64.shlibs.local"), nullptr);
}

TEST_F(AptTest, ReleaseWithDetachedSignatureAndCompressedPackages) {
  DebSpec spec;
  std::string deb = Deb(spec);
  std::string path = PutDeb("hello.deb", deb);
  // Packages.xz as apt may keep it: the Release lists the compressed file's digest.
  std::string plain = PackagesStanza(spec, deb, "pool/hello.deb");
  struct archive* a = archive_write_new();
  archive_write_set_format_raw(a);
  archive_write_add_filter_xz(a);
  std::vector<char> buf(1 << 20);
  size_t used = 0;
  archive_write_open_memory(a, buf.data(), buf.size(), &used);
  struct archive_entry* e = archive_entry_new();
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_size(e, static_cast<la_int64_t>(plain.size()));
  archive_write_header(a, e);
  archive_write_data(a, plain.data(), plain.size());
  archive_entry_free(e);
  archive_write_close(a);
  archive_write_free(a);
  PutIndex(std::string(buf.data(), used), "good", "", /*inrelease=*/false,
           std::string(kPackagesName) + ".xz");
  auto r = ImportFiles({path});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->releases, 1u);
  EXPECT_EQ(r->indexes, 1u);
  ASSERT_TRUE(r->packages[0].item.ok()) << r->packages[0].item.status().ToString();
}

// apt keeps indexes lz4-compressed on some systems; no Release lists Packages.lz4, so its
// decompressed content is checked against the Release's entry for Packages.
TEST_F(AptTest, LocallyRecompressedPackagesAreCheckedByTheirContent) {
  DebSpec spec;
  std::string deb = Deb(spec);
  std::string path = PutDeb("hello.deb", deb);
  std::string plain = PackagesStanza(spec, deb, "pool/hello.deb");
  auto lz4 = [](const std::string& text) {
    struct archive* a = archive_write_new();
    archive_write_set_format_raw(a);
    archive_write_add_filter_lz4(a);
    std::vector<char> buf(1 << 20);
    size_t used = 0;
    archive_write_open_memory(a, buf.data(), buf.size(), &used);
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_size(e, static_cast<la_int64_t>(text.size()));
    archive_write_header(a, e);
    archive_write_data(a, text.data(), text.size());
    archive_entry_free(e);
    archive_write_close(a);
    archive_write_free(a);
    return std::string(buf.data(), used);
  };
  std::string release = ReleaseText({{"main/binary-amd64/Packages", plain}});
  WriteFile(lists_ + "/" + kPrefix + "InRelease", gpg_->Clearsign(release, "good"));
  WriteFile(lists_ + "/" + kPrefix + kPackagesName + ".lz4", lz4(plain));
  auto item = ImportOne(path);
  ASSERT_TRUE(item.ok()) << item.status().ToString();
  // Other content, recompressed: refused with the content's digest.
  std::string changed = plain;
  changed.replace(changed.find("a test package"), 14, "a evil package");
  WriteFile(lists_ + "/" + kPrefix + kPackagesName + ".lz4", lz4(changed));
  item = ImportOne(path);
  EXPECT_EQ(item.status().code(), Code::kNotFound) << item.status().ToString();
  EXPECT_NE(item.status().message().find("SHA-256 of its content"), std::string::npos)
      << item.status().message();
}

TEST_F(AptTest, SeveralStanzasPerPackageName) {
  DebSpec v1, v2;
  v2.version = "2.0-1";
  v2.data[3].content = "#!/bin/sh\necho hello 2\n";
  std::string d1 = Deb(v1), d2 = Deb(v2);
  std::string p1 = PutDeb("hello_1.deb", d1), p2 = PutDeb("hello_2.deb", d2);
  PutIndex(PackagesStanza(v1, d1, "pool/hello_1.deb") + "\n" +
           PackagesStanza(v2, d2, "pool/hello_2.deb"));
  auto r = ImportFiles({p2, p1});
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->packages[0].item.ok()) << r->packages[0].item.status().ToString();
  ASSERT_TRUE(r->packages[1].item.ok()) << r->packages[1].item.status().ToString();
  EXPECT_EQ(r->packages[0].item->source.version, "2.0-1");
  EXPECT_EQ(r->packages[1].item->source.version, "1.0-1");
}

// Refusals: each names the file and the reason.

TEST_F(AptTest, BadSignatureIsRefused) {
  DebSpec spec;
  std::string deb = Deb(spec);
  std::string path = PutDeb("hello.deb", deb);
  PutIndex(PackagesStanza(spec, deb, "pool/hello.deb"));
  std::string inrel = lists_ + "/" + kPrefix + "InRelease";
  std::string text = testing::ReadFile(inrel);
  size_t at = text.find("Codename: test");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 14, "Codename: evil");
  WriteFile(inrel, text);
  auto item = ImportOne(path);
  EXPECT_EQ(item.status().code(), Code::kBadSignature) << item.status().ToString();
  EXPECT_NE(item.status().message().find("InRelease"), std::string::npos)
      << item.status().message();
  EXPECT_NE(item.status().message().find(path), std::string::npos) << item.status().message();
}

TEST_F(AptTest, MissingSignatureIsRefused) {
  DebSpec spec;
  std::string deb = Deb(spec);
  std::string path = PutDeb("hello.deb", deb);
  PutIndex(PackagesStanza(spec, deb, "pool/hello.deb"), "", "",
           /*inrelease=*/false);  // no Release.gpg
  auto item = ImportOne(path);
  EXPECT_EQ(item.status().code(), Code::kUnsigned) << item.status().ToString();
  EXPECT_NE(item.status().message().find("Release"), std::string::npos);
  // An InRelease that is not clearsigned at all.
  PutIndex(PackagesStanza(spec, deb, "pool/hello.deb"), "", "", /*inrelease=*/true);
  ::unlink((lists_ + "/" + kPrefix + "Release").c_str());
  item = ImportOne(path);
  EXPECT_EQ(item.status().code(), Code::kUnsigned) << item.status().ToString();
}

TEST_F(AptTest, TextAroundTheClearsignedMessageIsRefused) {
  DebSpec spec;
  std::string deb = Deb(spec);
  std::string path = PutDeb("hello.deb", deb);
  PutIndex(PackagesStanza(spec, deb, "pool/hello.deb"));
  std::string inrel = lists_ + "/" + kPrefix + "InRelease";
  std::string signed_text = testing::ReadFile(inrel);
  WriteFile(inrel, signed_text + "SHA256:\n 00 1 main/binary-amd64/Packages\n");
  auto item = ImportOne(path);
  EXPECT_EQ(item.status().code(), Code::kNotFound) << item.status().ToString();
  EXPECT_NE(item.status().message().find("after the signature"), std::string::npos)
      << item.status().message();
  EXPECT_EQ(CheckClearsignedFrame("Origin: x\n" + signed_text).code(), Code::kCorrupt);
  EXPECT_EQ(CheckClearsignedFrame(signed_text + signed_text).code(), Code::kCorrupt);
  EXPECT_TRUE(CheckClearsignedFrame(signed_text).ok());
}

TEST_F(AptTest, UnknownKeyIsRefused) {
  DebSpec spec;
  std::string deb = Deb(spec);
  std::string path = PutDeb("hello.deb", deb);
  PutIndex(PackagesStanza(spec, deb, "pool/hello.deb"), "other");
  auto item = ImportOne(path);
  EXPECT_EQ(item.status().code(), Code::kNoKey) << item.status().ToString();
  EXPECT_NE(item.status().message().find("not in the store's keyring"), std::string::npos);
}

TEST_F(AptTest, ExpiredKeyIsRefused) {
  DebSpec spec;
  std::string deb = Deb(spec);
  std::string path = PutDeb("hello.deb", deb);
  PutIndex(PackagesStanza(spec, deb, "pool/hello.deb"), "old");
  auto item = ImportOne(path);
  EXPECT_EQ(item.status().code(), Code::kBadSignature) << item.status().ToString();
  EXPECT_NE(item.status().message().find("expired"), std::string::npos) << item.status().message();
}

TEST_F(AptTest, ExpiredReleaseIsRefused) {
  DebSpec spec;
  std::string deb = Deb(spec);
  std::string path = PutDeb("hello.deb", deb);
  PutIndex(PackagesStanza(spec, deb, "pool/hello.deb"), "good",
           "Valid-Until: Sun, 12 Jul 2026 10:16:37 UTC\n");
  AptImportOptions o;
  o.now = 1783764997 + 2 * 86400;  // two days after Date, one after Valid-Until
  auto r = ImportDebFiles({path}, {lists_}, *verifier_, o);
  ASSERT_TRUE(r.ok());
  Status s = r->packages[0].item.status();
  EXPECT_EQ(s.code(), Code::kBadSignature) << s.ToString();
  EXPECT_NE(s.message().find("Valid-Until"), std::string::npos) << s.message();
  o.now = 1783764997 + 3600;  // before Valid-Until: accepted
  r = ImportDebFiles({path}, {lists_}, *verifier_, o);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->packages[0].item.ok()) << r->packages[0].item.status().ToString();
}

TEST_F(AptTest, PackagesHashMismatchIsRefused) {
  DebSpec spec;
  std::string deb = Deb(spec);
  std::string path = PutDeb("hello.deb", deb);
  std::string packages = PackagesStanza(spec, deb, "pool/hello.deb");
  PutIndex(packages);
  // The Packages file changes after the Release was signed (same size).
  std::string changed = packages;
  changed.replace(changed.find("a test package"), 14, "a evil package");
  WriteFile(lists_ + "/" + kPrefix + kPackagesName, changed);
  auto item = ImportOne(path);
  EXPECT_EQ(item.status().code(), Code::kNotFound) << item.status().ToString();
  EXPECT_NE(item.status().message().find(kPackagesName), std::string::npos);
  EXPECT_NE(item.status().message().find("does not match"), std::string::npos)
      << item.status().message();
}

TEST_F(AptTest, PackageInNoSignedIndexIsRefused) {
  DebSpec spec, other;
  other.package = "other";
  std::string deb = Deb(spec), odeb = Deb(other);
  std::string path = PutDeb("other.deb", odeb);
  PutIndex(PackagesStanza(spec, deb, "pool/hello.deb"));
  auto item = ImportOne(path);
  EXPECT_EQ(item.status().code(), Code::kNotFound) << item.status().ToString();
  EXPECT_NE(item.status().message().find("no signed index lists"), std::string::npos);
  EXPECT_NE(item.status().message().find(path), std::string::npos);
}

TEST_F(AptTest, ControlFieldsMustMatchTheStanza) {
  DebSpec spec;
  std::string deb = Deb(spec);
  std::string path = PutDeb("hello.deb", deb);
  DebSpec lie = spec;
  lie.version = "9.9-9";  // the stanza lists this .deb's hash under another version
  PutIndex(PackagesStanza(lie, deb, "pool/hello.deb"));
  auto item = ImportOne(path);
  EXPECT_EQ(item.status().code(), Code::kCorrupt) << item.status().ToString();
  EXPECT_NE(item.status().message().find("Version"), std::string::npos);
}

// ---- a root tree: import apt --root ----

class AptRootTest : public AptTest {
 protected:
  void SetUp() override {
    AptTest::SetUp();
    if (IsSkipped()) return;
    root_ = dir_ + "/root";
    for (const char* d : {"", "/var", "/var/lib", "/var/lib/dpkg", "/var/lib/apt", "/var/cache",
                          "/var/cache/apt", "/usr", "/usr/bin"}) {
      ::mkdir((root_ + d).c_str(), 0755);
    }
    lists_ = root_ + "/var/lib/apt/lists";  // the root's own lists, found without --lists
    ASSERT_EQ(::mkdir(lists_.c_str(), 0755), 0);
    ASSERT_EQ(::symlink("usr/bin", (root_ + "/bin").c_str()), 0);
  }
  void Installed(const std::vector<DebSpec>& pkgs) {
    std::string st;
    for (const DebSpec& p : pkgs) {
      st += "Package: " + p.package + "\nStatus: install ok installed\nVersion: " + p.version +
            "\nArchitecture: " + p.arch + "\nDescription: x\n y\n\n";
    }
    WriteFile(root_ + "/var/lib/dpkg/status", st);
  }
  Result<AptImportResult> Import() { return ImportRoot(root_, {}, {debs_}, *verifier_, {}); }
  std::string root_;
};

TEST_F(AptRootTest, InstalledPackagesAreImportedAndRefusedOneByOne) {
  // good: imported. missing: no .deb. truncated: cut .deb. tampered: same size, other bytes.
  // notdeb: the stanza lists a file that is not a .deb. dotdot: a data.tar with "..".
  // absent: in no index.
  std::vector<DebSpec> specs(7);
  const char* names[] = {"good", "missing", "truncated", "tampered", "notdeb", "dotdot", "absent"};
  for (size_t i = 0; i < specs.size(); ++i) specs[i].package = names[i];
  specs[0].data.push_back({"./bin/tool", "tool\n", 0755});
  specs[5].data.push_back({"./usr/../../etc/x", "x", 0644});
  std::string packages;
  for (size_t i = 0; i < specs.size(); ++i) {
    std::string deb = Deb(specs[i]);
    std::string file = specs[i].package + "_1.0-1_amd64.deb";
    if (specs[i].package == "notdeb") deb = std::string(4000, 'x');
    if (specs[i].package != "absent")
      packages += PackagesStanza(specs[i], deb, "pool/" + file) + "\n";
    if (specs[i].package == "missing") continue;
    if (specs[i].package == "truncated") deb.resize(deb.size() - 100);
    if (specs[i].package == "tampered") deb[deb.size() - 30] ^= 1;
    PutDeb(file, deb);
  }
  PutIndex(packages);
  Installed(specs);
  auto r = Import();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->packages.size(), 7u);
  std::map<std::string, Status> by;
  for (auto& p : r->packages) by[p.input.substr(0, p.input.find(' '))] = p.item.status();
  ASSERT_TRUE(r->packages[0].item.ok()) << r->packages[0].item.status().ToString();
  // Merged /usr: /bin/tool is recorded where it really is.
  EXPECT_NE(FindFile(*r->packages[0].item, "/usr/bin/tool"), nullptr);
  EXPECT_EQ(FindFile(*r->packages[0].item, "/bin/tool"), nullptr);
  auto expect = [&](const char* pkg, Code code, const char* words) {
    const Status& s = by[pkg];
    EXPECT_EQ(s.code(), code) << pkg << ": " << s.ToString();
    EXPECT_NE(s.message().find(words), std::string::npos) << pkg << ": " << s.message();
    if (std::string(pkg) != "absent") {
      EXPECT_NE(s.message().find(std::string(pkg) + "_1.0-1_amd64.deb"), std::string::npos)
          << pkg << ": " << s.message();
    }
  };
  expect("missing", Code::kNotFound, "missing from");
  expect("truncated", Code::kCorrupt, "truncated");
  expect("tampered", Code::kCorrupt, "SHA-256");
  expect("notdeb", Code::kCorrupt, "not a .deb");
  expect("dotdot", Code::kCorrupt, "\"..\"");
  expect("absent", Code::kNotFound, "no signed index lists absent 1.0-1 amd64");
}

TEST_F(AptRootTest, TheInstalledVersionIsChosenAmongSeveralStanzas) {
  DebSpec v1, v2;
  v2.version = "1:2.0~rc1-1";
  std::string d1 = Deb(v1), d2 = Deb(v2);
  PutDeb("hello_1.0-1_amd64.deb", d1);
  PutDeb("hello_1%3a2.0~rc1-1_amd64.deb", d2);  // apt's name for an epoch
  PutIndex(PackagesStanza(v1, d1, "pool/hello_1.0-1_amd64.deb") + "\n" +
           PackagesStanza(v2, d2, "pool/hello_2.0~rc1-1_amd64.deb"));
  Installed({v2});
  auto r = Import();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->packages.size(), 1u);
  ASSERT_TRUE(r->packages[0].item.ok()) << r->packages[0].item.status().ToString();
  EXPECT_EQ(r->packages[0].item->source.name, "hello_1:2.0~rc1-1_amd64");
}

TEST_F(AptRootTest, SymlinksOfTheTreeCannotLeadOutOfIt) {
  // The tree's /var/lib/dpkg is a symlink to an absolute host path holding a status file: it is
  // resolved inside the root, where nothing is, so the import fails instead of reading the host's.
  std::string host_dpkg = dir_ + "/host-dpkg";
  ASSERT_EQ(::mkdir(host_dpkg.c_str(), 0755), 0);
  WriteFile(host_dpkg + "/status",
            "Package: hostpkg\nStatus: install ok installed\nVersion: 1\n"
            "Architecture: all\n");
  ASSERT_EQ(::rmdir((root_ + "/var/lib/dpkg").c_str()), 0);
  ASSERT_EQ(::symlink(host_dpkg.c_str(), (root_ + "/var/lib/dpkg").c_str()), 0);
  auto r = Import();
  EXPECT_EQ(r.status().code(), Code::kNotFound) << r.status().ToString();
  // The same kind of link to a directory of the tree itself is followed within it.
  ::unlink((root_ + "/var/lib/dpkg").c_str());
  ASSERT_EQ(::mkdir((root_ + "/dpkg-real").c_str(), 0755), 0);
  WriteFile(root_ + "/dpkg-real/status", "");
  ASSERT_EQ(::symlink("/dpkg-real", (root_ + "/var/lib/dpkg").c_str()), 0);
  r = Import();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->packages.empty());
}

TEST_F(AptTest, KeyringsOfSeveralKeysAreSplit) {
  std::string ring = gpg_->PublicKey("good") + gpg_->PublicKey("other") + gpg_->PublicKey("old");
  auto keys = SplitKeys({reinterpret_cast<const uint8_t*>(ring.data()), ring.size()});
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  ASSERT_EQ(keys->size(), 3u);
  std::set<std::string> ids;
  for (const auto& k : *keys) {
    auto info = ParseKey(k);
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    ids.insert(info->id);
  }
  EXPECT_EQ(ids.size(), 3u);
  std::string cut = ring.substr(0, ring.size() - 10);
  EXPECT_FALSE(SplitKeys({reinterpret_cast<const uint8_t*>(cut.data()), cut.size()}).ok());
}

}  // namespace
}  // namespace dfs::apt
