// verify-tree's walk and decisions (policy/verify_tree.h) with a fake store.
#include <gtest/gtest.h>
#include <grp.h>
#include <sys/stat.h>

#include <cstdlib>
#include <unistd.h>

#include "policy/verify_tree.h"
#include "tests/unit/enforcer_fakes.h"

namespace dfs {
namespace {

using testing::FakeStore;
using testing::Sha;
using testing::TempTree;

class VerifyTreeTest : public ::testing::Test {
 protected:
  std::unique_ptr<Enforcer> Make(std::string_view text) {
    auto p = Policy::Parse(text, "t.policy");
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return std::make_unique<Enforcer>(store, nullptr, std::move(p).value(), EnforcerOptions{});
  }
  std::shared_ptr<FakeStore> store = std::make_shared<FakeStore>();
  TempTree tree;
  TempTree outside;
};

TEST_F(VerifyTreeTest, ReportsWhatAMountWouldRefuse) {
  tree.Write("/usr/bin/ok", "ok");
  tree.Write("/usr/bin/evil", "evil");
  tree.Write("/usr/lib/data", "data");  // not executable: read only
  tree.Write("/etc/conf", "conf");
  ASSERT_EQ(chmod(tree.Real("/usr/lib/data").c_str(), 0644), 0);
  ASSERT_EQ(chmod(tree.Real("/etc/conf").c_str(), 0644), 0);
  ASSERT_EQ(link(tree.Real("/usr/bin/ok").c_str(), tree.Real("/usr/bin/ok-link").c_str()), 0);
  outside.Write("/secret", "evil outside");
  ASSERT_EQ(symlink(outside.Real("/secret").c_str(), tree.Real("/usr/bin/link").c_str()), 0);
  ASSERT_EQ(symlink(outside.root().c_str(), tree.Real("/usr/dirlink").c_str()), 0);
  ASSERT_EQ(mkfifo(tree.Real("/usr/fifo").c_str(), 0644), 0);
  store->Add(SourceKind::kRpm, "p", {FileEntry{Sha("ok"), "/usr/bin/ok", 0100755, 0}});

  auto e = Make("appraise op=exec\nappraise op=read path=/usr/**\naudit path=/etc/**\n");
  auto r = VerifyTree(*e, tree.root(), VerifyTreeOptions{});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->files, 5u);
  EXPECT_EQ(r->checked, 5u);
  EXPECT_EQ(r->symlinks, 2u);
  EXPECT_EQ(r->skipped, 1u);
  EXPECT_EQ(r->errors, 0u);
  EXPECT_EQ(r->hashes, 4u) << "hard links share one hash";
  ASSERT_EQ(r->refused.size(), 3u);
  EXPECT_EQ(r->refused[0].path, "/usr/bin/evil");
  EXPECT_EQ(r->refused[0].op, AccessOp::kRead);
  EXPECT_EQ(r->refused[0].rule, 2);
  EXPECT_EQ(r->refused[1].path, "/usr/bin/evil");
  EXPECT_EQ(r->refused[1].op, AccessOp::kExec);
  EXPECT_EQ(r->refused[1].rule, 1);
  EXPECT_EQ(r->refused[1].digest, Sha("evil").ToString());
  EXPECT_EQ(r->refused[2].path, "/usr/lib/data");
  ASSERT_EQ(r->audited.size(), 1u);
  EXPECT_EQ(r->audited[0].path, "/etc/conf");
  for (const auto& f : r->refused) EXPECT_EQ(f.path.find("secret"), std::string::npos);
}

TEST_F(VerifyTreeTest, PrefixPlacesTheTreeInTheMount) {
  tree.Write("/ls", "ls");
  store->Add(SourceKind::kRpm, "p", {FileEntry{Sha("ls"), "/usr/bin/ls", 0100755, 0}});
  auto e = Make("appraise op=exec bind=path\n");
  auto bare = VerifyTree(*e, tree.root(), VerifyTreeOptions{});
  ASSERT_TRUE(bare.ok());
  ASSERT_EQ(bare->refused.size(), 1u);  // /ls is not where the package put it
  VerifyTreeOptions o;
  o.prefix = "/usr/bin";
  auto r = VerifyTree(*e, tree.root(), o);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->refused.empty());
}

TEST_F(VerifyTreeTest, MissingDirFails) {
  auto r = VerifyTree(*Make("appraise\n"), tree.Real("/nonexistent"), {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_NE(r.status().message().find("/nonexistent"), std::string::npos);
}

// An entry that cannot be opened is an error, never a pass. Root reads everything, so as root the
// check runs in a child that has dropped to an unprivileged uid (CI runs as root: no skip there).
TEST_F(VerifyTreeTest, UnreadableEntriesAreErrors) {
  tree.Write("/a", "a");
  ASSERT_EQ(chmod(tree.Real("/a").c_str(), 0), 0);
  auto e = Make("appraise\n");
  auto check = [&]() -> bool {
    auto r = VerifyTree(*e, tree.root(), {});
    return r.ok() && r->errors == 1u && r->refused.size() == 1u &&
           r->refused[0].refusal == Refusal::kError;
  };
  if (geteuid() != 0) {
    EXPECT_TRUE(check());
    return;
  }
  ASSERT_EQ(chmod(tree.root().c_str(), 0755), 0);
  EXPECT_EXIT(
      {
        bool dropped = setgroups(0, nullptr) == 0 && setgid(65534) == 0 && setuid(65534) == 0;
        std::_Exit(dropped && geteuid() == 65534 && check() ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace dfs
