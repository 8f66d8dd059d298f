// CreateEnforcer (policy/enforcer.h) with the real LMDB store and measurement: a bad policy fails
// with the policy checker's message, a missing store fails closed, a good config gives a Gate
// that decides, and a measuring policy writes the aggregate to the log.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <map>

#include "cache/store.h"
#include "policy/enforcer.h"
#include "policy/policy.h"
#include "tests/unit/enforcer_fakes.h"

namespace dfs {
namespace {

class FactoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions so;
    so.create = true;
    auto s = Store::Open(tree.Real("/store"), so);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
  }
  std::string WritePolicy(const std::string& text) {
    std::string p = tree.Real("/test.policy");
    std::ofstream(p) << text;
    return p;
  }
  testing::TempTree tree;
};

TEST_F(FactoryTest, BadPolicyFailsWithThePolicyCheckerMessage) {
  EnforcerConfig cfg;
  cfg.store_dir = tree.Real("/store");
  cfg.policy_file = WritePolicy("appraise op=exec\nappraise path=relative\n");
  auto g = CreateEnforcer(cfg);
  ASSERT_FALSE(g.ok());
  auto p = Policy::Load(cfg.policy_file);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(g.status().ToString(), p.status().ToString());
  EXPECT_NE(g.status().message().find(":2:15: "), std::string::npos) << g.status().ToString();
}

TEST_F(FactoryTest, MissingStoreFailsClosedAndBadModeIsRefused) {
  EnforcerConfig cfg;
  cfg.store_dir = tree.Real("/no-store");
  cfg.policy_file = WritePolicy("appraise op=exec\n");
  auto g = CreateEnforcer(cfg);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("no-store"), std::string::npos) << g.status().ToString();
  cfg.store_dir = tree.Real("/store");
  cfg.mode = "lenient";
  EXPECT_EQ(CreateEnforcer(cfg).status().code(), Code::kInvalidArgument);
}

TEST_F(FactoryTest, GateDecidesAndMeasuringPolicyWritesTheLog) {
  tree.Write("/root/bin/x", "unlisted");
  EnforcerConfig cfg;
  cfg.store_dir = tree.Real("/store");
  cfg.policy_file = WritePolicy("appraise op=exec\nmeasure op=exec\n");
  cfg.log_dir = tree.Real("/mlog");
  auto g = CreateEnforcer(cfg);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_FALSE((*g)->verify_blocks());
  testing::Open o(tree, "/root/bin/x", AccessOp::kExec);
  o.req.path = "/bin/x";
  OpenTicket t;
  EXPECT_EQ((*g)->CheckOpen(o.req, &t).code(), Code::kPermissionDenied);
  std::ifstream log(tree.Real("/mlog/ascii_runtime_measurements"));
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("digestfs_aggregate"), std::string::npos) << text;
  EXPECT_NE(text.find(" /bin/x"), std::string::npos) << text;  // measured before refused
}

// A file none of whose names fs/ could confirm (req.path empty) is decided as for an unknown path
// but measured under the name the kernel may have reached it by, not with an empty name.
TEST_F(FactoryTest, AFileWithoutAConfirmedNameIsMeasuredUnderItsOtherName) {
  tree.Write("/root/bin/y", "unlisted");
  EnforcerConfig cfg;
  cfg.store_dir = tree.Real("/store");
  cfg.policy_file = WritePolicy("dont_appraise path=/bin/**\nappraise op=exec\nmeasure op=exec\n");
  cfg.log_dir = tree.Real("/mlog");
  auto g = CreateEnforcer(cfg);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  testing::Open o(tree, "/root/bin/y", AccessOp::kExec);
  o.req.path.clear();
  o.req.aliases = {"/bin/y"};
  OpenTicket t;
  Status s = (*g)->CheckOpen(o.req, &t);
  EXPECT_EQ(s.code(), Code::kPermissionDenied) << "no exemption for a name that is not confirmed";
  EXPECT_NE(s.message().find("/bin/y"), std::string::npos) << s.ToString();
  std::ifstream log(tree.Real("/mlog/ascii_runtime_measurements"));
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find(" /bin/y\n"), std::string::npos) << text;
  EXPECT_EQ(text.find(" \n"), std::string::npos) << "an entry without a name: " << text;
}

TEST_F(FactoryTest, DefaultPolicyWhenNoneIsGiven) {
  tree.Write("/root/usr/lib/y", "unlisted");
  EnforcerConfig cfg;
  cfg.store_dir = tree.Real("/store");
  cfg.mode = "permissive";
  cfg.log_dir = tree.Real("/mlog");
  testing::Open o(tree, "/root/usr/lib/y", AccessOp::kRead);
  o.req.path = "/usr/lib/y";
  OpenTicket t;
  {
    auto g = CreateEnforcer(cfg);  // one store object per process at a time (LMDB's rule)
    ASSERT_TRUE(g.ok()) << g.status().ToString();
    EXPECT_TRUE((*g)->CheckOpen(o.req, &t).ok());  // permissive: allowed (and logged)
  }
  cfg.mode = "enforce";
  auto e = CreateEnforcer(cfg);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ((*e)->CheckOpen(o.req, &t).code(), Code::kPermissionDenied);
}

// SIGHUP (Gate::Reload): a new policy decides the next open; a bad one, or one with measure rules
// on a mount without a measurement log, is refused and the old one stays in force.
TEST_F(FactoryTest, ReloadSwapsThePolicyAndKeepsTheOldOneOnError) {
  tree.Write("/root/usr/lib/z", "unlisted");
  EnforcerConfig cfg;
  cfg.store_dir = tree.Real("/store");
  cfg.policy_file = WritePolicy("appraise op=read path=/usr/**\n");
  auto g = CreateEnforcer(cfg);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  testing::Open o(tree, "/root/usr/lib/z", AccessOp::kRead);
  o.req.path = "/usr/lib/z";
  OpenTicket t;
  EXPECT_EQ((*g)->CheckOpen(o.req, &t).code(), Code::kPermissionDenied);
  WritePolicy("appraise op=exec\n");
  ASSERT_TRUE((*g)->Reload().ok());
  EXPECT_TRUE((*g)->CheckOpen(o.req, &t).ok());  // no rule appraises reads any more
  WritePolicy("appraise op=read path=/usr/**\nappraise path=relative\n");
  Status bad = (*g)->Reload();
  EXPECT_EQ(bad.code(), Code::kInvalidArgument);
  EXPECT_NE(bad.message().find("test.policy:2:"), std::string::npos) << bad.ToString();
  EXPECT_TRUE((*g)->CheckOpen(o.req, &t).ok());  // the old (exec-only) policy stays
  WritePolicy("measure op=read\n");
  EXPECT_EQ((*g)->Reload().code(), Code::kInvalidArgument);  // no measurer on this mount
  EXPECT_TRUE((*g)->CheckOpen(o.req, &t).ok());
  std::vector<std::pair<std::string, uint64_t>> c;
  (*g)->Counters(&c);
  std::map<std::string, uint64_t> m(c.begin(), c.end());
  EXPECT_EQ(m["reloads"], 1u);
  EXPECT_EQ(m["reloads_refused"], 2u);
  EXPECT_EQ(m["opens"], 4u);
  EXPECT_EQ(m["refusals"], 1u);
}

}  // namespace
}  // namespace dfs
