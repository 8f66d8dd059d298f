// The store with Debian sources (kind deb): dpkg's version order and rollback by (package, arch),
// the same as for rpm sources but with deb-version(7) ordering.
#include <gtest/gtest.h>

#include "cache/store_format.h"
#include "tests/unit/store_test_util.h"

namespace dfs {
namespace {

using testing::File;
using testing::OpenOrDie;
using testing::Sha;
using testing::TempDir;

ImportItem Deb(const std::string& package, const std::string& version, std::vector<FileEntry> files,
               const std::string& arch = "amd64") {
  ImportItem it;
  it.source.kind = SourceKind::kDeb;
  it.source.package = package;
  it.source.arch = arch;
  it.source.version = version;
  it.source.name = package + "_" + version + "_" + arch;
  it.source.signer = "0123456789abcdef";
  it.source.blob_digest = Sha(".deb of " + it.source.name);
  it.source.origin = "/var/cache/apt/archives/" + it.source.name + ".deb";
  it.files = std::move(files);
  return it;
}

TEST(StoreDebTest, DpkgVersionOrder) {
  using store_format::CompareDebVersions;
  EXPECT_LT(CompareDebVersions("1.0~rc1", "1.0"), 0);
  EXPECT_LT(CompareDebVersions("1.0", "1.0+b1"), 0);
  EXPECT_LT(CompareDebVersions("1.0-1", "1.0-2"), 0);
  EXPECT_LT(CompareDebVersions("1.0-9", "1.0-10"), 0);
  EXPECT_LT(CompareDebVersions("2.0", "1:0.1"), 0);
  EXPECT_LT(CompareDebVersions("1.0", "1.0a"), 0);
  EXPECT_LT(CompareDebVersions("1.0a", "1.0+"), 0);  // letters sort before other characters
  EXPECT_LT(CompareDebVersions("1.0~~", "1.0~"), 0);
  EXPECT_EQ(CompareDebVersions("1.0-01", "1.0-1"), 0);
  EXPECT_EQ(CompareDebVersions("0:1.2", "1.2"), 0);
  EXPECT_LT(CompareDebVersions("2.36-9+deb12u4", "2.36-9+deb12u10"), 0);
  // rpm's order differs on '~' after a release and on letters: the store uses the kind's order.
  EXPECT_LT(store_format::CompareVersionsOf(SourceKind::kDeb, "1.0~rc1", "1.0"), 0);
}

TEST(StoreDebTest, NewerVersionSupersedesOlderOneOfTheSameArch) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  auto v1 = store->Import(Deb("hello", "1.0-1", {File("/usr/bin/hello", "v1")}), {});
  ASSERT_TRUE(v1.ok()) << v1.status().ToString();
  auto other_arch =
      store->Import(Deb("hello", "0.9-1", {File("/usr/bin/hello", "i386")}, "i386"), {});
  ASSERT_TRUE(other_arch.ok());
  auto v2 = store->Import(Deb("hello", "1.0-1+deb12u1", {File("/usr/bin/hello", "v2")}), {});
  ASSERT_TRUE(v2.ok()) << v2.status().ToString();
  ASSERT_EQ(v2->superseded.size(), 1u);
  EXPECT_EQ(v2->superseded[0], v1->source_id);
  EXPECT_FALSE(store->Lookup(Sha("v1"))->known());
  EXPECT_TRUE(store->Lookup(Sha("v2"))->known());
  EXPECT_TRUE(store->Lookup(Sha("i386"))->known());
  // The older one again is stored superseded, not rolled back to.
  auto again = store->Import(Deb("hello", "1.0~rc1-1", {File("/usr/bin/hello", "rc")}), {});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->older);
  EXPECT_FALSE(store->Lookup(Sha("rc"))->known());
  auto src = store->GetSource(v2->source_id);
  ASSERT_TRUE(src.ok());
  EXPECT_EQ(src->kind, SourceKind::kDeb);
  EXPECT_STREQ(SourceKindName(src->kind), "deb");
  // An rpm of the same name is another group.
  auto rpm =
      store->Import(testing::Rpm("hello", "0.1-1", {File("/usr/bin/hello", "rpm")}, "amd64"), {});
  ASSERT_TRUE(rpm.ok());
  EXPECT_TRUE(rpm->superseded.empty());
  EXPECT_FALSE(rpm->older);
}

}  // namespace
}  // namespace dfs
