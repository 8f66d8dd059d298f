// Unit tests for fs/host_lsm.h: SelinuxActive reads a sysfs tree. Each case builds the tree it
// names in a temporary directory: securityfs's list with and without "selinux" (and a module whose
// name only contains it), SELinux's mount point without securityfs, a sysfs with neither, and no
// sysfs at all (an error, never a guess). One case reads this host's /sys and checks the answer
// against the list the kernel gives.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <string>

#include "fs/host_lsm.h"
#include "store_test_util.h"

namespace dfs::fs {
namespace {

using dfs::testing::TempDir;

void Write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

TEST(HostLsm, SecurityfsListDecides) {
  TempDir d;
  ASSERT_EQ(mkdir(d.Sub("kernel").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(d.Sub("kernel/security").c_str(), 0755), 0);
  Write(d.Sub("kernel/security/lsm"), "lockdown,capability,landlock,bpf");
  auto r = SelinuxActive(d.path());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(*r);

  Write(d.Sub("kernel/security/lsm"), "lockdown,capability,yama,selinux,bpf");
  r = SelinuxActive(d.path());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(*r);

  // A name is a whole item of the list.
  Write(d.Sub("kernel/security/lsm"), "capability,notselinux,selinuxish");
  r = SelinuxActive(d.path());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(*r);

  // The list wins over a stray fs/selinux directory.
  ASSERT_EQ(mkdir(d.Sub("fs").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(d.Sub("fs/selinux").c_str(), 0755), 0);
  r = SelinuxActive(d.path());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(*r);
}

TEST(HostLsm, WithoutSecurityfsSelinuxMountPointDecides) {
  TempDir d;
  ASSERT_EQ(mkdir(d.Sub("kernel").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(d.Sub("fs").c_str(), 0755), 0);
  auto r = SelinuxActive(d.path());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(*r);
  ASSERT_EQ(mkdir(d.Sub("fs/selinux").c_str(), 0755), 0);
  r = SelinuxActive(d.path());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(*r);
}

TEST(HostLsm, NoSysfsIsAnErrorNotAGuess) {
  TempDir d;
  auto r = SelinuxActive(d.Sub("missing"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("kernel/security/lsm"), std::string::npos)
      << r.status().ToString();
}

TEST(HostLsm, ThisHostAgreesWithItsList) {
  std::ifstream in("/sys/kernel/security/lsm");
  std::string names;
  if (!std::getline(in, names)) GTEST_SKIP() << "SKIPPED: securityfs is not mounted here";
  auto r = SelinuxActive();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, ("," + names + ",").find(",selinux,") != std::string::npos) << names;
}

}  // namespace
}  // namespace dfs::fs
