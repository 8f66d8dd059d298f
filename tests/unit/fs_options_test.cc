// Unit tests for fs/options.h: the digestfs command line.
#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "fs/options.h"

namespace dfs::fs {
namespace {

Result<MountOptions> Parse(std::vector<const char*> args) {
  args.insert(args.begin(), "digestfs");
  return ParseCommandLine(static_cast<int>(args.size()), args.data());
}

TEST(FsOptions, Defaults) {
  auto o = Parse({"/src", "/mnt"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->source, "/src");
  EXPECT_EQ(o->mountpoint, "/mnt");
  EXPECT_FALSE(o->foreground);
  EXPECT_EQ(o->mode, EnforceMode::kEnforce);
  EXPECT_EQ(o->store_dir, "/var/lib/digestfs");
  EXPECT_TRUE(o->verify_blocks);  // per-block checks by default (docs/mount.md)
  EXPECT_EQ(o->pcr, -1);  // unset: the measurement component's default applies
  EXPECT_EQ(o->loglevel, "info");
  EXPECT_TRUE(o->fuse_opts.empty());
}

TEST(FsOptions, AllDigestfsOptionsAndPassThrough) {
  auto o = Parse({"-f", "/src", "/mnt", "-o",
                  "store=/s,policy=/p.pol,mode=permissive,verify=open,"
                  "tpm=swtpm:host=127.0.0.1\\,port=2321,pcr=16,log=/l,measure_all_sources,"
                  "loglevel=debug,timeout=2.5,threads=0,rw,nodev,allow_other",
                  "-omax_read=131072"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_TRUE(o->foreground);
  EXPECT_EQ(o->store_dir, "/s");
  EXPECT_EQ(o->policy_file, "/p.pol");
  EXPECT_EQ(o->mode, EnforceMode::kPermissive);
  EXPECT_FALSE(o->verify_blocks);
  EXPECT_EQ(o->tpm_tcti, "swtpm:host=127.0.0.1,port=2321");
  EXPECT_EQ(o->pcr, 16);
  EXPECT_EQ(o->log_dir, "/l");
  EXPECT_TRUE(o->measure_all_sources);
  EXPECT_EQ(o->loglevel, "debug");
  EXPECT_DOUBLE_EQ(o->timeout, 2.5);
  EXPECT_EQ(o->threads, 0u);
  EXPECT_EQ(o->fuse_opts,
            (std::vector<std::string>{"rw", "nodev", "allow_other", "max_read=131072"}));
}

TEST(FsOptions, KernelLog) {
  auto unset = Parse({"/s", "/m", "-o", "pcr=10"});
  ASSERT_TRUE(unset.ok());
  EXPECT_FALSE(unset->kernel_log.has_value());  // the measurement default (the kernel's log)
  auto none = Parse({"/s", "/m", "-o", "pcr=10,kernel_log=none"});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->kernel_log, std::optional<std::string>(""));
  auto file = Parse({"/s", "/m", "-o", "kernel_log=/k/log"});
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->kernel_log, std::optional<std::string>("/k/log"));
  EXPECT_FALSE(Parse({"/s", "/m", "-o", "kernel_log="}).ok());
}

TEST(FsOptions, SizeCapAndRetrustLimit) {
  auto d = Parse({"/s", "/m"});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->max_hash_size, 4ull << 30);
  EXPECT_EQ(d->retrust_max, 4096u);
  auto o = Parse({"/s", "/m", "-o", "max_hash_size=512M,retrust_max=0"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->max_hash_size, 512ull << 20);
  EXPECT_EQ(o->retrust_max, 0u);
  auto b = Parse({"/s", "/m", "-o", "max_hash_size=1000"});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->max_hash_size, 1000u);
  for (const char* bad : {"max_hash_size=", "max_hash_size=-1", "max_hash_size=1X",
                          "max_hash_size=99999999999T", "retrust_max=x", "retrust_max=-3"}) {
    auto r = Parse({"/s", "/m", "-o", bad});
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find(std::string(bad).substr(0, 11)), std::string::npos)
        << r.status().message();
  }
}

TEST(FsOptions, EscapedCommaStaysEscapedForLibfuse) {
  auto o = Parse({"/s", "/m", "-o", "fsname=a\\,b,mode=off"});
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->mode, EnforceMode::kOff);
  EXPECT_EQ(o->fuse_opts, std::vector<std::string>{"fsname=a\\,b"});
}

TEST(FsOptions, ErrorsNameTheCulprit) {
  struct Case {
    std::vector<const char*> args;
    const char* needle;
  } cases[] = {
      {{"/s", "/m", "-o", "mode=sideways"}, "mode=sideways"},
      {{"/s", "/m", "-o", "verify=always"}, "verify=always"},
      {{"/s", "/m", "-o", "pcr=24"}, "pcr=24"},
      {{"/s", "/m", "-o", "pcr=x"}, "pcr=x"},
      {{"/s", "/m", "-o", "loglevel=loud"}, "loglevel=loud"},
      {{"/s", "/m", "-o", "store="}, "store"},
      {{"/s", "/m", "-o", "measure_all_sources=yes"}, "measure_all_sources"},
      {{"/s", "/m", "-o", "timeout=-1"}, "timeout=-1"},
      {{"/s", "/m", "--frob"}, "--frob"},
      {{"/s", "/m", "extra"}, "extra"},
      {{"/s"}, "MOUNTPOINT"},
      {{"/s", "/m", "-o"}, "-o"},
  };
  for (const auto& c : cases) {
    auto o = Parse(c.args);
    ASSERT_FALSE(o.ok()) << c.needle;
    EXPECT_EQ(o.status().code(), Code::kInvalidArgument);
    EXPECT_NE(o.status().message().find(c.needle), std::string::npos) << o.status().message();
  }
}

TEST(FsOptions, HelpAndVersionNeedNoPaths) {
  auto h = Parse({"--help"});
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(h->show_help);
  auto v = Parse({"-V"});
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->show_version);
  EXPECT_NE(UsageText("digestfs").find("mode=enforce|permissive|off"), std::string::npos);
}

TEST(FsOptions, DoubleDashAllowsDashSource) {
  auto o = Parse({"-o", "mode=off", "--", "-src", "/m"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->source, "-src");
}

// An fstab line's options reach digestfs through mount(8) and mount.fuse3, which drop the
// options meant for them. The same list given to digestfs itself (-o, or OPTIONS= in a
// digestfs@.service environment file) must work too: digestfs drops them as well.
TEST(FsOptions, FstabOnlyOptionsAreDropped) {
  auto o = Parse({"/s", "/m", "-o",
                  "defaults,nofail,_netdev,auto,noauto,user,nouser,users,comment=systemd.x,"
                  "x-systemd.automount,x-systemd.requires=network-online.target,"
                  "x-systemd.mount-timeout=30,X-mount.mkdir=0755,store=/st,rw,allow_other"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->store_dir, "/st");
  EXPECT_EQ(o->fuse_opts, (std::vector<std::string>{"rw", "allow_other"}));
  // Only whole option names are dropped: a misspelling still reaches libfuse, which names it.
  auto typo = Parse({"/s", "/m", "-o", "nofail2,x_systemd.automount"});
  ASSERT_TRUE(typo.ok()) << typo.status().ToString();
  EXPECT_EQ(typo->fuse_opts, (std::vector<std::string>{"nofail2", "x_systemd.automount"}));
}

TEST(FsOptions, SplitAndUnescape) {
  EXPECT_EQ(SplitOptionList("a,b\\,c,,d"), (std::vector<std::string>{"a", "b\\,c", "", "d"}));
  EXPECT_EQ(UnescapeOption("b\\,c\\\\d"), "b,c\\d");
}

TEST(MountOptionsPrefill, DefaultRangeAndErrors) {
  const char* a1[] = {"digestfs", "/src", "/mnt"};
  auto o1 = ParseCommandLine(3, const_cast<char**>(a1));
  ASSERT_TRUE(o1.ok()) << o1.status().ToString();
  EXPECT_EQ(o1->prefill_kb, kDefaultPrefillKb);
  for (const char* ok : {"prefill_kb=0", "prefill_kb=64", "prefill_kb=1024"}) {
    const char* a[] = {"digestfs", "/src", "/mnt", "-o", ok};
    auto o = ParseCommandLine(5, const_cast<char**>(a));
    ASSERT_TRUE(o.ok()) << ok << ": " << o.status().ToString();
    EXPECT_EQ(o->prefill_kb, std::stoul(std::string(ok).substr(11))) << ok;
  }
  for (const char* bad :
       {"prefill_kb=", "prefill_kb", "prefill_kb=-1", "prefill_kb=1025", "prefill_kb=4k"}) {
    const char* a[] = {"digestfs", "/src", "/mnt", "-o", bad};
    auto o = ParseCommandLine(5, const_cast<char**>(a));
    ASSERT_FALSE(o.ok()) << bad;
    EXPECT_EQ(o.status().code(), Code::kInvalidArgument) << bad;
    EXPECT_NE(o.status().message().find("prefill_kb"), std::string::npos) << o.status().ToString();
  }
}

}  // namespace
}  // namespace dfs::fs

namespace dfs::fs {
namespace {

TEST(MountOptionsLoop, DispatcherByDefaultMultiThreadedOnRequest) {
  const char* a1[] = {"digestfs", "/src", "/mnt"};
  auto o1 = ParseCommandLine(3, const_cast<char**>(a1));
  ASSERT_TRUE(o1.ok()) << o1.status().ToString();
  EXPECT_FALSE(o1->mt_loop);
  const char* a2[] = {"digestfs", "/src", "/mnt", "-o", "mt_loop"};
  auto o2 = ParseCommandLine(5, const_cast<char**>(a2));
  ASSERT_TRUE(o2.ok()) << o2.status().ToString();
  EXPECT_TRUE(o2->mt_loop);
  const char* a3[] = {"digestfs", "/src", "/mnt", "-o", "mt_loop,dispatch_loop"};
  auto o3 = ParseCommandLine(5, const_cast<char**>(a3));
  ASSERT_TRUE(o3.ok()) << o3.status().ToString();
  EXPECT_FALSE(o3->mt_loop);  // the last one wins
  const char* a4[] = {"digestfs", "/src", "/mnt", "-o", "dispatch_loop=1"};
  EXPECT_FALSE(ParseCommandLine(5, const_cast<char**>(a4)).ok());
}

TEST(MountOptionsLoop, PollBudget) {
  const char* a1[] = {"digestfs", "/src", "/mnt"};
  auto o1 = ParseCommandLine(3, const_cast<char**>(a1));
  ASSERT_TRUE(o1.ok()) << o1.status().ToString();
  EXPECT_EQ(o1->poll, kDefaultPollBudget);
  EXPECT_TRUE(o1->poll_follows_kernel);  // the default follows the kernel's fuse.wake_here
  for (const char* ok : {"poll_us=0", "poll_us=50", "poll_us=200", "poll_us=10000"}) {
    const char* a[] = {"digestfs", "/src", "/mnt", "-o", ok};
    auto o = ParseCommandLine(5, const_cast<char**>(a));
    ASSERT_TRUE(o.ok()) << ok << ": " << o.status().ToString();
    EXPECT_EQ(o->poll.count(), std::stol(std::string(ok).substr(8))) << ok;
    EXPECT_FALSE(o->poll_follows_kernel) << ok << ": a given budget is kept";
  }
  for (const char* bad : {"poll_us=", "poll_us", "poll_us=-1", "poll_us=10001", "poll_us=5us"}) {
    const char* a[] = {"digestfs", "/src", "/mnt", "-o", bad};
    auto o = ParseCommandLine(5, const_cast<char**>(a));
    ASSERT_FALSE(o.ok()) << bad;
    EXPECT_EQ(o.status().code(), Code::kInvalidArgument) << bad;
    EXPECT_NE(o.status().message().find("poll_us"), std::string::npos) << o.status().ToString();
  }
}

}  // namespace
}  // namespace dfs::fs

namespace dfs::fs {
namespace {

TEST(MountOptionsPassthrough, AutoByDefaultAlwaysAndOffOnRequest) {
  const char* a1[] = {"digestfs", "/src", "/mnt"};
  auto o1 = ParseCommandLine(3, const_cast<char**>(a1));
  ASSERT_TRUE(o1.ok()) << o1.status().ToString();
  EXPECT_EQ(o1->passthrough, PassthroughMode::kAuto);
  const char* a2[] = {"digestfs", "/src", "/mnt", "-o", "mode=off,passthrough=always"};
  auto o2 = ParseCommandLine(5, const_cast<char**>(a2));
  ASSERT_TRUE(o2.ok()) << o2.status().ToString();
  EXPECT_EQ(o2->passthrough, PassthroughMode::kAlways);
  const char* a3[] = {"digestfs", "/src", "/mnt", "-o", "passthrough=off"};
  auto o3 = ParseCommandLine(5, const_cast<char**>(a3));
  ASSERT_TRUE(o3.ok()) << o3.status().ToString();
  EXPECT_EQ(o3->passthrough, PassthroughMode::kOff);
  const char* a4[] = {"digestfs", "/src", "/mnt", "-o", "passthrough=sometimes"};
  auto o4 = ParseCommandLine(5, const_cast<char**>(a4));
  ASSERT_FALSE(o4.ok());
  EXPECT_NE(o4.status().message().find("passthrough=sometimes"), std::string::npos)
      << o4.status().ToString();
}

TEST(MountOptionsSelinuxXattr, AutoByDefaultNativeOnRequest) {
  auto o1 = Parse({"/src", "/mnt"});
  ASSERT_TRUE(o1.ok()) << o1.status().ToString();
  EXPECT_EQ(o1->selinux_xattr, SelinuxXattr::kAuto);
  auto o2 = Parse({"/src", "/mnt", "-o", "selinux_xattr=native"});
  ASSERT_TRUE(o2.ok()) << o2.status().ToString();
  EXPECT_EQ(o2->selinux_xattr, SelinuxXattr::kNative);
  EXPECT_TRUE(o2->fuse_opts.empty());  // consumed, not handed to libfuse
  auto o3 = Parse({"/src", "/mnt", "-o", "selinux_xattr=native,selinux_xattr=auto"});
  ASSERT_TRUE(o3.ok()) << o3.status().ToString();
  EXPECT_EQ(o3->selinux_xattr, SelinuxXattr::kAuto);
  for (const char* bad : {"selinux_xattr=", "selinux_xattr", "selinux_xattr=off"}) {
    auto o = Parse({"/src", "/mnt", "-o", bad});
    ASSERT_FALSE(o.ok()) << bad;
    EXPECT_EQ(o.status().code(), Code::kInvalidArgument) << bad;
    EXPECT_NE(o.status().message().find("selinux_xattr"), std::string::npos)
        << o.status().ToString();
  }
  EXPECT_NE(UsageText("digestfs").find("selinux_xattr=auto|native"), std::string::npos);
  EXPECT_EQ(SelinuxXattrName(SelinuxXattr::kAuto), "auto");
  EXPECT_EQ(SelinuxXattrName(SelinuxXattr::kNative), "native");
}

}  // namespace
TEST(MountOptionsWatch, AutoByDefaultOnOffOnRequest) {
  auto o1 = Parse({"/src", "/mnt"});
  ASSERT_TRUE(o1.ok()) << o1.status().ToString();
  EXPECT_EQ(o1->watch, WatchMode::kAuto);
  const std::pair<const char*, WatchMode> cases[] = {
      {"watch=on", WatchMode::kOn},
      {"watch=off", WatchMode::kOff},
      {"watch=auto", WatchMode::kAuto},
      {"watch=off,watch=on", WatchMode::kOn},  // the last one counts
  };
  for (const auto& [text, want] : cases) {
    auto o = Parse({"/src", "/mnt", "-o", text});
    ASSERT_TRUE(o.ok()) << text << ": " << o.status().ToString();
    EXPECT_EQ(o->watch, want) << text;
    EXPECT_TRUE(o->fuse_opts.empty()) << text;  // consumed, not handed to libfuse
  }
  for (const char* bad : {"watch=", "watch", "watch=yes", "watch=ON"}) {
    auto o = Parse({"/src", "/mnt", "-o", bad});
    ASSERT_FALSE(o.ok()) << bad;
    EXPECT_EQ(o.status().code(), Code::kInvalidArgument) << bad;
    EXPECT_NE(o.status().message().find("watch"), std::string::npos) << o.status().ToString();
  }
  EXPECT_NE(UsageText("digestfs").find("watch=auto|on|off"), std::string::npos);
  EXPECT_EQ(WatchModeName(WatchMode::kAuto), "auto");
  EXPECT_EQ(WatchModeName(WatchMode::kOn), "on");
  EXPECT_EQ(WatchModeName(WatchMode::kOff), "off");
}

}  // namespace dfs::fs
