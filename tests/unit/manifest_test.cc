// Signed manifests: build from a tree (hostile names), sign, verify, parse; tampering refused.
#include "packaging/manifest.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "crypto/hash.h"
#include "crypto/sign.h"
#include "packaging/file_util.h"

namespace dfs {
namespace {

void Write(const std::string& p, const std::string& s) {
  std::ofstream f(p, std::ios::binary);
  f << s;
}

class ManifestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/dfs-mantest.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    tree_ = dir_ + "/tree";
    std::filesystem::create_directories(tree_ + "/usr/bin");
    std::filesystem::create_directories(tree_ + "/etc");
    Write(tree_ + "/usr/bin/hello", "hello\n");
    Write(tree_ + "/etc/a b%c", "spaces\n");
    Write(tree_ + "/etc/new\nline", "newline\n");
    Write(tree_ + "/etc/\xff\xfe", "binary name\n");
    ::chmod((tree_ + "/usr/bin/hello").c_str(), 0755);
    ASSERT_EQ(::symlink("/etc/shadow", (tree_ + "/etc/link").c_str()), 0);
    ASSERT_EQ(::symlink("/", (tree_ + "/rootlink").c_str()), 0);
    ASSERT_EQ(::mkfifo((tree_ + "/fifo").c_str(), 0600), 0);
    if (std::system("command -v openssl >/dev/null 2>&1") != 0) return;
    for (const char* n : {"a", "b"}) {
      std::string cmd =
          "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
          "-days 30 -subj /CN=dfs-man-" +
          std::string(n) + " -keyout " + dir_ + "/" + n + ".key -out " + dir_ + "/" + n +
          ".crt 2>/dev/null";
      ASSERT_EQ(std::system(cmd.c_str()), 0);
    }
    have_certs_ = true;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::vector<uint8_t> File(const std::string& n) {
    return *ReadFileLimited(dir_ + "/" + n, 1 << 20);
  }
  Result<ImportItem> Import(const std::string& text, const std::string& cert) {
    Write(dir_ + "/m", text);
    auto c = ParseX509(File(cert));
    EXPECT_TRUE(c.ok());
    return ReadManifestFile(dir_ + "/m", {c->der}, {c->fingerprint.substr(0, 16)});
  }
  std::string dir_, tree_;
  bool have_certs_ = false;
};

TEST_F(ManifestTest, BuildSkipsNonRegularAndHandlesHostileNames) {
  BuildStats st;
  auto m = BuildManifest(tree_, "golden", HashAlgo::kSha256, &st);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(st.files, 4u);
  EXPECT_EQ(st.skipped, 3u);  // two symlinks and a fifo
  std::vector<std::string> paths;
  for (const auto& e : m->entries) paths.push_back(e.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"/etc/a b%c", "/etc/new\nline", "/etc/\xff\xfe",
                                             "/usr/bin/hello"}));
  EXPECT_EQ(m->entries[3].digest, *HashBytes(HashAlgo::kSha256, "hello\n"));
  EXPECT_EQ(m->entries[3].mode & 07777, 0755u);
  std::string body = ManifestBody(*m);
  // One line per entry plus three header lines: the newline in a name did not add a line.
  EXPECT_EQ(std::count(body.begin(), body.end(), '\n'), 3 + 4);
  auto back = ParseManifestBody(body);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->entries.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(back->entries[i].path, m->entries[i].path);
    EXPECT_EQ(back->entries[i].digest, m->entries[i].digest);
    EXPECT_EQ(back->entries[i].mode, m->entries[i].mode);
  }
  EXPECT_EQ(back->name, "golden");
}

TEST_F(ManifestTest, SignedRoundTripAndTampering) {
  if (!have_certs_) GTEST_SKIP() << "no openssl";
  auto m = BuildManifest(tree_, "golden image", HashAlgo::kSha256);
  ASSERT_TRUE(m.ok());
  auto text = SignManifest(*m, File("a.key"), File("a.crt"));
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  auto item = Import(*text, "a.crt");
  ASSERT_TRUE(item.ok()) << item.status().ToString();
  EXPECT_EQ(item->source.kind, SourceKind::kManifest);
  EXPECT_EQ(item->source.name, "golden image");
  EXPECT_EQ(item->files.size(), 4u);
  EXPECT_FALSE(item->source.signer.empty());

  // A changed digest: bad signature.
  std::string t = *text;
  size_t at = t.find("file ") + 5;
  t[at] = t[at] == '0' ? '1' : '0';
  auto bad = Import(t, "a.crt");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kBadSignature) << bad.status().ToString();
  // An added line: bad signature.
  std::string added = *text;
  added.insert(added.find("file "), "file " + std::string(64, 'a') + " 100755 /bin/evil\n");
  auto bad2 = Import(added, "a.crt");
  ASSERT_FALSE(bad2.ok());
  EXPECT_EQ(bad2.status().code(), Code::kBadSignature);
  // Another key.
  auto nokey = Import(*text, "b.crt");
  ASSERT_FALSE(nokey.ok());
  EXPECT_EQ(nokey.status().code(), Code::kNoKey);
  // No signature.
  auto unsig = Import(ManifestBody(*m), "a.crt");
  ASSERT_FALSE(unsig.ok());
  EXPECT_EQ(unsig.status().code(), Code::kUnsigned);
  // Text after the signature block.
  auto trailing = Import(*text + "file x\n", "a.crt");
  ASSERT_FALSE(trailing.ok());
  EXPECT_EQ(trailing.status().code(), Code::kInvalidArgument);
}

TEST_F(ManifestTest, SignedButMalformedBodyIsRefused) {
  if (!have_certs_) GTEST_SKIP() << "no openssl";
  std::string body = "digestfs-manifest 1\nname x\nalgo sha256\nfile " + std::string(64, 'a') +
                     " 100644 /b\nfile " + std::string(64, 'b') + " 100644 /a\n";
  auto sig = SignDetached({reinterpret_cast<const uint8_t*>(body.data()), body.size()},
                          File("a.key"), File("a.crt"), false);
  ASSERT_TRUE(sig.ok());
  auto r = Import(body + *CmsDerToPem(*sig), "a.crt");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("ascending"), std::string::npos) << r.status().ToString();
}

TEST(ManifestParseTest, Rules) {
  const std::string h = "digestfs-manifest 1\nname x\nalgo sha256\n";
  const std::string d = std::string(64, 'a');
  EXPECT_TRUE(ParseManifestBody(h).ok());
  EXPECT_TRUE(ParseManifestBody(h + "file " + d + " 100644 /a\n").ok());
  for (const std::string& bad : std::vector<std::string>{
           std::string("digestfs-manifest 2\nname x\nalgo sha256\n"),
           "digestfs-manifest 1\nalgo sha256\n", "digestfs-manifest 1\nname x\nalgo md5\n",
           h + "file " + d + " 100644 a\n",                             // relative
           h + "file " + d + " 100644 /a/../b\n",                       // dot-dot
           h + "file " + d + " 100644 /a//b\n",                         // empty component
           h + "file " + d + " 120777 /a\n",                            // symlink mode
           h + "file " + d + " 100644 /a\nfile " + d + " 100644 /a\n",  // duplicate
           h + "file " + d.substr(2) + " 100644 /a\n",                  // short digest
           h + "file " + d + " 100644 /a%zz\n",                         // bad escape
           h + "file " + d + " 100644 /a extra\n",                      // extra field
           h + "file " + d + " 100644 /a",                              // no final newline
           h + "bogus\n"}) {
    EXPECT_FALSE(ParseManifestBody(bad).ok()) << bad;
  }
}

// Each manifest has one spelling: the body that was signed is the body ManifestBody writes back.
TEST(ManifestParseTest, OneSpellingPerField) {
  const std::string h = "digestfs-manifest 1\nname x\nalgo sha256\n";
  const std::string d = std::string(64, 'a');
  const std::string good = h + "file " + d + " 100644 /a%20b%25\n";
  auto m = ParseManifestBody(good);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->entries[0].path, "/a b%");
  EXPECT_EQ(ManifestBody(*m), good);
  for (const std::string& bad : std::vector<std::string>{
           h + "file " + d + " 100644 /a%2fb\n",                 // lower-case hex
           h + "file " + d + " 100644 /%61\n",                   // needless escape of 'a'
           h + "file " + d + " 100644 /a\x80\n",                 // raw byte that is written escaped
           h + "file " + d + " 100644 /a\\b\n",                  // raw backslash
           h + "file " + d + " 0100644 /a\n",                    // leading zero in the mode
           h + "file " + std::string(64, 'A') + " 100644 /a\n",  // upper-case digest
           "digestfs-manifest 1\nname %78\nalgo sha256\n",
           "digestfs-manifest 1\nname \nalgo sha256\n"}) {  // empty name is written "%"
    EXPECT_FALSE(ParseManifestBody(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace dfs
