// Unit tests for fs/host_lsm.h: SelinuxLabelReaders reads a sysfs tree. Each case builds the tree
// it names in a temporary directory: securityfs's list with and without "selinux", with "evm"
// (Linux 6.9+) or "integrity" (IMA or EVM before 6.9; counted), names that only contain those, an
// empty list, EVM's own files without its name in the list, and no securityfs (an error, never a
// guess, even where SELinux's mount point exists).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <string>

#include "fs/host_lsm.h"
#include "store_test_util.h"

namespace dfs::fs {
namespace {

using dfs::testing::TempDir;

// A sysfs tree with securityfs's list of modules.
class HostLsm : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(mkdir(d_.Sub("kernel").c_str(), 0755), 0);
    ASSERT_EQ(mkdir(d_.Sub("kernel/security").c_str(), 0755), 0);
  }
  LabelReaders Read(const std::string& list) {
    std::ofstream(d_.Sub("kernel/security/lsm")) << list;
    auto r = SelinuxLabelReaders(d_.path());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : LabelReaders{true, true};
  }
  TempDir d_;
};

TEST_F(HostLsm, NeitherSelinuxNorEvm) {
  LabelReaders r = Read("lockdown,capability,landlock,bpf");
  EXPECT_FALSE(r.selinux);
  EXPECT_FALSE(r.evm);
  r = Read("");
  EXPECT_FALSE(r.selinux);
  EXPECT_FALSE(r.evm);
  // A name is a whole item of the list.
  r = Read("capability,notselinux,selinuxish,evmx,integrity2");
  EXPECT_FALSE(r.selinux);
  EXPECT_FALSE(r.evm);
}

TEST_F(HostLsm, SelinuxFromTheList) {
  LabelReaders r = Read("lockdown,capability,yama,selinux,bpf");
  EXPECT_TRUE(r.selinux);
  EXPECT_FALSE(r.evm);
}

TEST_F(HostLsm, EvmFromTheListOrItsFiles) {
  EXPECT_TRUE(Read("capability,selinux,bpf,ima,evm").evm);
  // Before Linux 6.9: "integrity" (IMA or EVM) counts, to be safe.
  EXPECT_TRUE(Read("capability,integrity,apparmor").evm);
  EXPECT_FALSE(Read("capability,apparmor").evm);
  std::ofstream(d_.Sub("kernel/security/evm")) << "0";
  EXPECT_TRUE(Read("capability,apparmor").evm);
  ASSERT_EQ(unlink(d_.Sub("kernel/security/evm").c_str()), 0);
  ASSERT_EQ(mkdir(d_.Sub("kernel/security/integrity").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(d_.Sub("kernel/security/integrity/evm").c_str(), 0755), 0);
  std::ofstream(d_.Sub("kernel/security/integrity/evm/evm")) << "0";
  EXPECT_TRUE(Read("capability,apparmor").evm);
}

TEST(HostLsmUnknown, NoSecurityfsIsAnErrorNotAGuess) {
  TempDir d;
  ASSERT_EQ(mkdir(d.Sub("kernel").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(d.Sub("fs").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(d.Sub("fs/selinux").c_str(), 0755), 0);
  for (const std::string& root : {d.path(), d.Sub("missing")}) {
    auto r = SelinuxLabelReaders(root);
    ASSERT_FALSE(r.ok()) << root;
    EXPECT_EQ(r.status().code(), Code::kUnavailable);
    EXPECT_NE(r.status().message().find("kernel/security/lsm"), std::string::npos)
        << r.status().ToString();
  }
}

}  // namespace
}  // namespace dfs::fs
