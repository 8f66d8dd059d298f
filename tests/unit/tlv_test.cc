// The kernel digest_cache v6 TLV list parser/writer and the module-style appended signature.
#include "packaging/tlv.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "crypto/hash.h"
#include "crypto/sign.h"
#include "packaging/file_util.h"

namespace dfs {
namespace {

// Builders for hand-made (possibly malformed) lists.
struct B {
  std::vector<uint8_t> v;
  B& u16(uint16_t x) {
    v.push_back(x >> 8);
    v.push_back(x & 0xff);
    return *this;
  }
  B& u32(uint32_t x) {
    for (int s = 24; s >= 0; s -= 8) v.push_back((x >> s) & 0xff);
    return *this;
  }
  B& bytes(const std::vector<uint8_t>& b) {
    v.insert(v.end(), b.begin(), b.end());
    return *this;
  }
  B& field(uint16_t id, const std::vector<uint8_t>& val) {
    return u16(id).u32(static_cast<uint32_t>(val.size())).bytes(val);
  }
};
std::vector<uint8_t> Be16(uint16_t x) { return {uint8_t(x >> 8), uint8_t(x)}; }
std::vector<uint8_t> Be32(uint32_t x) {
  return {uint8_t(x >> 24), uint8_t(x >> 16), uint8_t(x >> 8), uint8_t(x)};
}
std::vector<uint8_t> Entry(size_t digest_len, const std::string& path = "/usr/bin/x") {
  B e;
  e.field(0, std::vector<uint8_t>(digest_len, 0xab));
  std::vector<uint8_t> p(path.begin(), path.end());
  p.push_back(0);
  if (!path.empty()) e.field(1, p);
  return e.v;
}

void ExpectInvalid(const std::vector<uint8_t>& data, const std::string& needle) {
  auto r = ParseTlv(data);
  ASSERT_FALSE(r.ok()) << "accepted a list that should fail with: " << needle;
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().ToString();
}

TEST(TlvTest, RoundTrip) {
  TlvList l;
  l.algo = HashAlgo::kSha256;
  for (int i = 0; i < 3; ++i) {
    TlvEntry e;
    e.digest = *HashBytes(HashAlgo::kSha256, std::to_string(i));
    if (i != 1) e.path = "/usr/lib/f" + std::to_string(i);
    l.entries.push_back(e);
  }
  auto bytes = WriteTlv(l);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  // Fixed layout: ALGO (6+2), NUM_ENTRIES (6+4) first.
  ASSERT_GE(bytes->size(), 18u);
  EXPECT_EQ((*bytes)[0], 0);
  EXPECT_EQ((*bytes)[1], 0);
  EXPECT_EQ((*bytes)[7], 4);  // sha256 = 4
  EXPECT_EQ((*bytes)[17], 3);
  auto back = ParseTlv(*bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->algo, HashAlgo::kSha256);
  ASSERT_EQ(back->entries.size(), 3u);
  EXPECT_EQ(back->entries[0].digest, l.entries[0].digest);
  EXPECT_EQ(*back->entries[2].path, "/usr/lib/f2");
  EXPECT_FALSE(back->entries[1].path.has_value());
}

TEST(TlvTest, EveryAlgorithm) {
  for (HashAlgo a : {HashAlgo::kMd5, HashAlgo::kSha1, HashAlgo::kSha224, HashAlgo::kSha256,
                     HashAlgo::kSha384, HashAlgo::kSha512}) {
    auto d = B().field(0, Be16(HashAlgoToKernelId(a)))
                 .field(1, Be32(1))
                 .field(2, Entry(HashAlgoSize(a)));
    auto r = ParseTlv(d.v);
    ASSERT_TRUE(r.ok()) << HashAlgoName(a) << ": " << r.status().ToString();
    EXPECT_EQ(r->algo, a);
  }
}

TEST(TlvTest, EmptyListIsValid) {
  auto r = ParseTlv(B().field(0, Be16(4)).field(1, Be32(0)).v);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->entries.empty());
}

TEST(TlvTest, BadAlgoLength) {
  ExpectInvalid(B().field(0, {0, 0, 4}).field(1, Be32(0)).v, "ALGO length 3");
  ExpectInvalid(B().field(0, {4}).field(1, Be32(0)).v, "ALGO length 1");
}

TEST(TlvTest, UnknownAlgorithm) {
  ExpectInvalid(B().field(0, Be16(99)).field(1, Be32(0)).v, "unknown hash algorithm");
}

TEST(TlvTest, DigestLengthMismatch) {
  ExpectInvalid(B().field(0, Be16(4)).field(1, Be32(1)).field(2, Entry(20)).v,
                "digest length 20 does not match sha256");
  ExpectInvalid(B().field(0, Be16(2)).field(1, Be32(1)).field(2, Entry(32)).v,
                "digest length 32 does not match sha1");
}

TEST(TlvTest, NumEntriesMismatch) {
  ExpectInvalid(B().field(0, Be16(4)).field(1, Be32(2)).field(2, Entry(32)).v,
                "NUM_ENTRIES says 2, list has 1");
  ExpectInvalid(B().field(0, Be16(4)).field(1, Be32(1)).field(2, Entry(32)).field(2, Entry(32)).v,
                "more entries than NUM_ENTRIES");
  ExpectInvalid(B().field(0, Be16(4)).field(1, {0, 0, 1}).v, "NUM_ENTRIES length 3");
  ExpectInvalid(B().field(0, Be16(4)).field(2, Entry(32)).v, "entry before NUM_ENTRIES");
}

TEST(TlvTest, UnknownFieldIds) {
  ExpectInvalid(B().field(0, Be16(4)).field(1, Be32(0)).field(3, {1}).v, "unknown field id 3");
  B e;
  e.field(0, std::vector<uint8_t>(32, 1)).field(7, {0});
  ExpectInvalid(B().field(0, Be16(4)).field(1, Be32(1)).field(2, e.v).v,
                "unknown entry field id 7");
}

TEST(TlvTest, DigestBeforeAlgo) {
  ExpectInvalid(B().field(2, Entry(32)).field(0, Be16(4)).v, "entry before ALGO");
  ExpectInvalid(B().field(1, Be32(0)).field(0, Be16(4)).v, "NUM_ENTRIES before ALGO");
}

TEST(TlvTest, Truncation) {
  auto good = B().field(0, Be16(4)).field(1, Be32(1)).field(2, Entry(32)).v;
  ASSERT_TRUE(ParseTlv(good).ok());
  // Cut anywhere inside: always refused (the only valid prefix ends after NUM_ENTRIES... of 1
  // entry, which then mismatches).
  for (size_t cut = 1; cut < good.size(); ++cut) {
    std::vector<uint8_t> t(good.begin(), good.begin() + cut);
    EXPECT_FALSE(ParseTlv(t).ok()) << "cut at " << cut;
  }
  ExpectInvalid({0, 0, 0}, "truncated field header");
  // A length that points beyond the end.
  auto big = B().field(0, Be16(4)).field(1, Be32(1)).u16(2).u32(0xfffffff0).v;
  ExpectInvalid(big, "exceeds the remaining");
}

TEST(TlvTest, EntryRules) {
  B nodigest;
  nodigest.field(1, {'/', 'a', 0});
  ExpectInvalid(B().field(0, Be16(4)).field(1, Be32(1)).field(2, nodigest.v).v,
                "entry without a digest");
  B noterm;
  noterm.field(0, std::vector<uint8_t>(32, 1)).field(1, {'/', 'a'});
  ExpectInvalid(B().field(0, Be16(4)).field(1, Be32(1)).field(2, noterm.v).v, "not NUL-terminated");
  B innernul;
  innernul.field(0, std::vector<uint8_t>(32, 1)).field(1, {'/', 0, 'a', 0});
  ExpectInvalid(B().field(0, Be16(4)).field(1, Be32(1)).field(2, innernul.v).v, "path holds a NUL");
  ExpectInvalid(B().field(0, Be16(4)).field(0, Be16(4)).field(1, Be32(0)).v, "ALGO appears twice");
  ExpectInvalid({}, "no ALGO");
}

// Every single-byte mutation of a valid list is either refused or still a list that serialises
// back to the same bytes (a changed digest or path character); never a crash.
TEST(TlvTest, SingleByteMutations) {
  TlvList l;
  l.algo = HashAlgo::kSha256;
  for (int i = 0; i < 3; ++i) {
    TlvEntry e;
    e.digest = *HashBytes(HashAlgo::kSha256, std::to_string(i));
    e.path = "/p" + std::to_string(i);
    l.entries.push_back(e);
  }
  auto good = *WriteTlv(l);
  size_t accepted = 0, refused = 0;
  for (size_t off = 0; off < good.size(); ++off) {
    for (uint8_t x : {0x01, 0x80, 0xff}) {
      auto m = good;
      m[off] ^= x;
      auto r = ParseTlv(m);
      if (r.ok()) {
        ++accepted;
        auto back = WriteTlv(*r);
        ASSERT_TRUE(back.ok());
        EXPECT_EQ(*back, m) << "mutation at " << off;
      } else {
        ++refused;
      }
    }
  }
  EXPECT_GT(accepted, 0u);  // digest bytes
  EXPECT_GT(refused, 0u);   // headers
}

TEST(TlvTest, ModuleSignatureSplit) {
  std::vector<uint8_t> content = {1, 2, 3};
  std::vector<uint8_t> sig = {0x30, 0x03, 0x02, 0x01, 0x00};
  auto file = AppendModuleSignature(content, sig);
  EXPECT_EQ(file.size(), content.size() + sig.size() + 12 + 28);
  auto s = SplitModuleSignature(file);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(std::vector<uint8_t>(s->content.begin(), s->content.end()), content);
  EXPECT_EQ(std::vector<uint8_t>(s->signature.begin(), s->signature.end()), sig);
  // id_type other than PKCS#7
  auto bad = file;
  bad[content.size() + sig.size() + 2] = 1;
  EXPECT_FALSE(SplitModuleSignature(bad).ok());
  // sig_len beyond the file
  bad = file;
  bad[content.size() + sig.size() + 8] = 0x7f;
  EXPECT_FALSE(SplitModuleSignature(bad).ok());
  // no trailer: unsigned
  auto plain = SplitModuleSignature(content);
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(plain->signature.empty());
}

// Signed lists, with certificates made by the openssl command-line tool.
class TlvSignTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::system("command -v openssl >/dev/null 2>&1") != 0) GTEST_SKIP() << "no openssl";
    char tmpl[] = "/tmp/dfs-tlvtest.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    for (const char* n : {"a", "b"}) {
      std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=dfs-test-" +
                        std::string(n) + " -keyout " + dir_ + "/" + n + ".key -out " + dir_ + "/" +
                        n + ".crt 2>/dev/null";
      ASSERT_EQ(std::system(cmd.c_str()), 0);
    }
    cert_a_ = *ReadFileLimited(dir_ + "/a.crt", 1 << 20);
    key_a_ = *ReadFileLimited(dir_ + "/a.key", 1 << 20);
    cert_b_ = *ReadFileLimited(dir_ + "/b.crt", 1 << 20);
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  std::vector<uint8_t> List() {
    TlvList l;
    l.algo = HashAlgo::kSha256;
    TlvEntry e;
    e.digest = *HashBytes(HashAlgo::kSha256, "hello");
    e.path = "/usr/bin/hello";
    l.entries.push_back(e);
    return *WriteTlv(l);
  }
  Result<ImportItem> Import(const std::vector<uint8_t>& file, const std::vector<uint8_t>& cert,
                            TlvImportOptions o = {}) {
    std::string p = dir_ + "/tlv-test";
    EXPECT_TRUE(WriteFileAtomic(p, file).ok());
    auto c = ParseX509(cert);
    EXPECT_TRUE(c.ok());
    return ReadTlvFile(p, {c->der}, {c->fingerprint.substr(0, 16)}, o);
  }
  std::string dir_;
  std::vector<uint8_t> cert_a_, key_a_, cert_b_;
};

TEST_F(TlvSignTest, SignedListImports) {
  auto list = List();
  auto sig = SignDetached(list, key_a_, cert_a_, /*module_style=*/true);
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  auto item = Import(AppendModuleSignature(list, *sig), cert_a_);
  ASSERT_TRUE(item.ok()) << item.status().ToString();
  EXPECT_EQ(item->source.kind, SourceKind::kTlv);
  EXPECT_EQ(item->source.name, "tlv-test");
  EXPECT_EQ(item->source.signer, ParseX509(cert_a_)->fingerprint.substr(0, 16));
  ASSERT_EQ(item->files.size(), 1u);
  EXPECT_EQ(item->files[0].path, "/usr/bin/hello");
}

TEST_F(TlvSignTest, OpensslCmsSignatureLikeSignFile) {
  // The kernel's sign-file layout: DER CMS, no attributes, no certs, signer by key id.
  auto list = List();
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/list", list).ok());
  std::string cmd =
      "openssl cms -sign -binary -noattr -nocerts -keyid -md sha256 -outform DER"
      " -in " +
      dir_ + "/list -signer " + dir_ + "/a.crt -inkey " + dir_ + "/a.key -out " + dir_ +
      "/list.p7s 2>/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  auto sig = ReadFileLimited(dir_ + "/list.p7s", 1 << 20);
  ASSERT_TRUE(sig.ok());
  auto item = Import(AppendModuleSignature(list, *sig), cert_a_);
  ASSERT_TRUE(item.ok()) << item.status().ToString();
}

TEST_F(TlvSignTest, BadSignatureAndUnknownKeyAndUnsigned) {
  auto list = List();
  auto sig = SignDetached(list, key_a_, cert_a_, true);
  ASSERT_TRUE(sig.ok());
  auto file = AppendModuleSignature(list, *sig);
  auto tampered = file;
  tampered[20] ^= 1;  // inside the list
  auto bad = Import(tampered, cert_a_);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kBadSignature) << bad.status().ToString();
  auto nokey = Import(file, cert_b_);
  ASSERT_FALSE(nokey.ok());
  EXPECT_EQ(nokey.status().code(), Code::kNoKey) << nokey.status().ToString();
  auto unsig = Import(list, cert_a_);
  ASSERT_FALSE(unsig.ok());
  EXPECT_EQ(unsig.status().code(), Code::kUnsigned);
  TlvImportOptions o;
  o.allow_unsigned = true;
  auto allowed = Import(list, cert_a_, o);
  ASSERT_TRUE(allowed.ok());
  EXPECT_NE(allowed->source.flags & kSourceUnsigned, 0u);
  // A signature whose bytes are garbage.
  std::vector<uint8_t> junk(40, 0x41);
  auto j = Import(AppendModuleSignature(list, junk), cert_a_);
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), Code::kInvalidArgument);
}

TEST_F(TlvSignTest, SignedMalformedListIsRefused) {
  auto list = B().field(0, Be16(4)).field(1, Be32(2)).field(2, Entry(32)).v;
  auto sig = SignDetached(list, key_a_, cert_a_, true);
  ASSERT_TRUE(sig.ok());
  auto r = Import(AppendModuleSignature(list, *sig), cert_a_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("NUM_ENTRIES"), std::string::npos);
}

}  // namespace
}  // namespace dfs
