// Key parsing and the keys directory: the corpus keys get the verdicts rpm 4.18 gives them, and
// every change is logged.
#include "packaging/keys.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "packaging/file_util.h"

namespace dfs {
namespace {

const std::string kCorpus =
    getenv("DFS_CORPUS") ? getenv("DFS_CORPUS") : DFS_SOURCE_DIR "/../shared/corpus/rpm-upstream";

class KeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    struct stat st;
    if (::stat(kCorpus.c_str(), &st) != 0) GTEST_SKIP() << "corpus not found at " << kCorpus;
    char tmpl[] = "/tmp/dfs-keystest.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    store_ = tmpl;
  }
  void TearDown() override {
    if (!store_.empty()) std::filesystem::remove_all(store_);
  }
  std::vector<uint8_t> Key(const std::string& n) {
    auto d = ReadFileLimited(kCorpus + "/keys/" + n, 1 << 22);
    EXPECT_TRUE(d.ok()) << n;
    return d.ok() ? *d : std::vector<uint8_t>{};
  }
  std::string Log() {
    std::ifstream f(store_ + "/keys/keys.log");
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
  std::string store_;
};

TEST_F(KeysTest, ImportableKeys) {
  auto rsa = ParseKey(Key("rpm.org-rsa-2048-test.pub"));
  ASSERT_TRUE(rsa.ok()) << rsa.status().ToString();
  EXPECT_EQ(rsa->type, KeyType::kOpenPgp);
  EXPECT_EQ(rsa->id, "4344591e1964c5fc");
  EXPECT_EQ(rsa->fingerprint, "771b18d3d7baa28734333c424344591e1964c5fc");
  auto bin = ParseKey(Key("rpm.org-rsa-2048-test.pgp"));  // binary form of the same key
  ASSERT_TRUE(bin.ok()) << bin.status().ToString();
  EXPECT_EQ(bin->fingerprint, rsa->fingerprint);
  auto ed = ParseKey(Key("rpm.org-ed25519-test.pub"));
  ASSERT_TRUE(ed.ok()) << ed.status().ToString();
  EXPECT_EQ(ed->fingerprint, "152bb32fd9ca982797e835cfb0645aec757bf69e");
  auto cert = ParseKey(Key("privkey-selfsigned-cert.der"));
  ASSERT_TRUE(cert.ok()) << cert.status().ToString();
  EXPECT_EQ(cert->type, KeyType::kX509);
  EXPECT_EQ(cert->description, "CN=rpm-test-ima");
}

TEST_F(KeysTest, KeysRpm418CannotUseAreRefused) {
  for (const char* n :
       {"rpm.org-rsa-2048-add-subkey.asc", "alice.asc", "alice-expired-subkey.asc",
        "alice-revoked-subkey.asc", "rpm.org-nistp256-test.pub", "rpm.org-v6-ed25519-test.asc",
        "rpm.org-v6-rsa4k-test.asc", "unknown/rpm.org-v6-mldsa87-test.asc",
        "CVE-2021-3521-badbind.asc", "CVE-2021-3521-nosubsig-last.asc",
        "CVE-2021-3521-nosubsig.asc", "type-confusion.asc"}) {
    auto k = ParseKey(Key(n));
    ASSERT_FALSE(k.ok()) << n;
    EXPECT_EQ(k.status().code(), Code::kInvalidArgument) << n;
  }
  auto v6 = ParseKey(Key("rpm.org-v6-ed25519-test.asc"));
  EXPECT_NE(v6.status().message().find("V6"), std::string::npos) << v6.status().ToString();
}

TEST_F(KeysTest, SecretKeysAndJunkAreRefused) {
  for (const char* n : {"rpm.org-rsa-2048-test.secret", "alice.secret", "keyidcollision1.asc",
                        "privkey.pem", "README.txt"}) {
    std::vector<uint8_t> d = std::string(n) == "README.txt"
                                 ? *ReadFileLimited(kCorpus + "/README.txt", 1 << 20)
                                 : Key(n);
    auto k = ParseKey(d);
    ASSERT_FALSE(k.ok()) << n;
    EXPECT_EQ(k.status().code(), Code::kInvalidArgument) << n;
  }
  auto secret = ParseKey(Key("rpm.org-rsa-2048-test.secret"));
  EXPECT_NE(secret.status().message().find("secret"), std::string::npos);
  EXPECT_FALSE(ParseKey(std::vector<uint8_t>{}).ok());
  EXPECT_FALSE(ParseKey(std::vector<uint8_t>{0x99, 0x00}).ok());        // truncated packet
  EXPECT_FALSE(ParseKey(std::vector<uint8_t>{0x30, 0x82, 0xff}).ok());  // truncated DER
  std::string fake =
      "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n-----END PGP PUBLIC KEY BLOCK-----\n";
  EXPECT_FALSE(ParseKey(std::vector<uint8_t>(fake.begin(), fake.end())).ok());
}

TEST_F(KeysTest, StoreAddListRemoveAndLog) {
  KeyStore ks(store_);
  auto a = ks.Add(Key("rpm.org-rsa-2048-test.pub"), "rsa.pub");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto dup = ks.Add(Key("rpm.org-rsa-2048-test.pgp"), "again");
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.status().code(), Code::kExists);
  ASSERT_TRUE(ks.Add(Key("privkey-selfsigned-cert.der"), "cert.der").ok());
  ASSERT_TRUE(ks.Add(Key("keyidcollision1.pub"), "c1").ok());
  auto coll = ks.Add(Key("keyidcollision2.pub"), "c2");
  ASSERT_FALSE(coll.ok());
  EXPECT_NE(coll.status().message().find("collision"), std::string::npos);
  auto bad = ks.Add(Key("alice.asc"), "alice.asc");
  ASSERT_FALSE(bad.ok());

  auto list = ks.List();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 3u);
  auto pgp = ks.ListType(KeyType::kOpenPgp);
  ASSERT_TRUE(pgp.ok());
  EXPECT_EQ(pgp->size(), 2u);

  auto rm = ks.Remove("4344591E1964C5FC");
  ASSERT_TRUE(rm.ok()) << rm.status().ToString();
  EXPECT_EQ(ks.Remove("4344591e1964c5fc").status().code(), Code::kNotFound);
  EXPECT_EQ(ks.Remove("abc").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(ks.List()->size(), 2u);

  std::string log = Log();
  EXPECT_NE(
      log.find(" add openpgp 4344591e1964c5fc 771b18d3d7baa28734333c424344591e1964c5fc rsa.pub"),
      std::string::npos)
      << log;
  EXPECT_NE(log.find(" remove openpgp 4344591e1964c5fc "), std::string::npos) << log;
  EXPECT_NE(log.find(" add x509 e7083786d07556cf "), std::string::npos) << log;
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 4);  // 3 adds + 1 remove, refusals not logged

  // A damaged key file is reported, not skipped.
  std::ofstream(store_ + "/keys/pgp-0000000000000000.pgp") << "junk";
  auto l2 = ks.List();
  ASSERT_FALSE(l2.ok());
  EXPECT_EQ(l2.status().code(), Code::kCorrupt);
}

}  // namespace
}  // namespace dfs
