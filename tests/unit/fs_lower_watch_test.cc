// Unit tests for fs/lower_watch.h against the real kernel (fanotify; needs CAP_SYS_ADMIN, skipped
// loudly without it): a name created, renamed and removed in a watched directory by another
// process is reported with that directory's identity, the name and "listing changed"; a chmod is
// reported without it; changes made by this process itself are not reported; marking the same
// file system twice is a no-op. ParseFanotifyEvents on hand-made buffers: entries, overflow, this
// process's events, unaligned buffers, and lengths that do not fit (no read outside the buffer).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fs/lower_watch.h"
#include "store_test_util.h"

namespace dfs::fs {
namespace {

struct Seen {
  ino_t dir;
  std::string name;
  bool listing;
};

class LowerWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto w = LowerWatch::Start(
        [this](const struct stat& dir, std::string_view name, bool listing) {
          std::lock_guard lock(mu_);
          seen_.push_back({dir.st_ino, std::string(name), listing});
          cv_.notify_all();
        },
        [this] {
          std::lock_guard lock(mu_);
          lost_ = true;
          cv_.notify_all();
        });
    if (!w.ok() && w.status().code() == Code::kPermissionDenied) {
      GTEST_SKIP() << "SKIPPED: fanotify needs CAP_SYS_ADMIN (run as root)";
    }
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    watch_ = std::move(w).value();
    dir_ = tmp_.path() + "/d";
    ASSERT_EQ(mkdir(dir_.c_str(), 0755), 0);
    struct stat st;
    ASSERT_EQ(stat(dir_.c_str(), &st), 0);
    dir_ino_ = st.st_ino;
    int fd = open(dir_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    Status s = watch_->Watch(fd);
    close(fd);
    if (s.code() == Code::kUnsupported) GTEST_SKIP() << "SKIPPED: " << s.ToString();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  // The watch's thread calls back into seen_, mu_ and cv_: it stops before they are destroyed
  // (members go in reverse order, and seen_ was freed under a callback: ASan, CI 2026-12-07).
  void TearDown() override { watch_.reset(); }

  // Runs `cmd` in a child process (its changes are not this process's), after forgetting the
  // events seen so far.
  void Child(const std::string& cmd) {
    {
      std::lock_guard lock(mu_);
      seen_.clear();
    }
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }

  // Waits up to 5 s for an event naming `name` in the test directory; returns it.
  std::optional<Seen> WaitFor(const std::string& name, bool listing) {
    std::unique_lock lock(mu_);
    std::optional<Seen> found;
    cv_.wait_for(lock, std::chrono::seconds(5), [&] {
      for (const Seen& s : seen_) {
        if (s.dir == dir_ino_ && s.name == name && s.listing == listing) {
          found = s;
          return true;
        }
      }
      return false;
    });
    return found;
  }

  dfs::testing::TempDir tmp_;
  std::unique_ptr<LowerWatch> watch_;
  std::string dir_;
  ino_t dir_ino_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Seen> seen_;
  bool lost_ = false;
};

TEST_F(LowerWatchTest, ReportsAnotherProcesssChangesOfNames) {
  Child("touch '" + dir_ + "/made'");
  EXPECT_TRUE(WaitFor("made", true)) << "create";
  Child("mv '" + dir_ + "/made' '" + dir_ + "/moved'");
  EXPECT_TRUE(WaitFor("made", true)) << "moved from";
  EXPECT_TRUE(WaitFor("moved", true)) << "moved to";
  Child("mkdir '" + dir_ + "/sub'");
  EXPECT_TRUE(WaitFor("sub", true)) << "mkdir";
  Child("chmod 600 '" + dir_ + "/moved'");
  EXPECT_TRUE(WaitFor("moved", false)) << "chmod: attributes, not the listing";
  Child("rm '" + dir_ + "/moved'");
  EXPECT_TRUE(WaitFor("moved", true)) << "unlink";
  std::lock_guard lock(mu_);
  EXPECT_FALSE(lost_);
}

TEST_F(LowerWatchTest, IgnoresThisProcesssOwnChanges) {
  // This process's create comes first; a child's after it. Once the child's is seen, the kernel
  // has queued (and the thread handled) the earlier one too, had it been reported.
  int fd = open((dir_ + "/mine").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  close(fd);
  Child("touch '" + dir_ + "/theirs'");
  ASSERT_TRUE(WaitFor("theirs", true));
  std::lock_guard lock(mu_);
  for (const Seen& s : seen_) EXPECT_NE(s.name, "mine") << "this process's own create was reported";
}

TEST_F(LowerWatchTest, WatchingTheSameFileSystemAgainIsANoOp) {
  int fd = open(tmp_.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(watch_->Watch(fd).ok());
  struct stat st;
  ASSERT_EQ(fstat(fd, &st), 0);
  close(fd);
  EXPECT_TRUE(watch_->Watches(st.st_dev));
  EXPECT_FALSE(watch_->Watches(st.st_dev + 12345));
}

// One event as the kernel lays it out: metadata, then one DFID_NAME info record (fsid, a
// file_handle with `handle_bytes` bytes, the NUL-terminated name), padded to 4 bytes.
std::string Event(uint64_t mask, int32_t pid, const std::string& name, uint32_t handle_bytes = 8,
                  uint8_t vers = FANOTIFY_METADATA_VERSION) {
  std::string info(sizeof(struct fanotify_event_info_fid), '\0');
  std::string fsid = "FSID-123";
  std::memcpy(&info[offsetof(struct fanotify_event_info_fid, fsid)], fsid.data(), 8);
  struct file_handle fh {};
  fh.handle_bytes = handle_bytes;
  fh.handle_type = 1;
  info.append(reinterpret_cast<const char*>(&fh), sizeof fh);
  info.append(std::min<uint32_t>(handle_bytes, 64), 'h');
  info += name;
  info.push_back('\0');
  while (info.size() % 4 != 0) info.push_back('\0');
  struct fanotify_event_info_header hdr {};
  hdr.info_type = FAN_EVENT_INFO_TYPE_DFID_NAME;
  hdr.len = static_cast<uint16_t>(info.size());
  std::memcpy(&info[0], &hdr, sizeof hdr);
  struct fanotify_event_metadata md {};
  md.event_len = static_cast<uint32_t>(sizeof md + info.size());
  md.vers = vers;
  md.metadata_len = sizeof md;
  md.mask = mask;
  md.fd = FAN_NOFD;
  md.pid = pid;
  std::string out(reinterpret_cast<const char*>(&md), sizeof md);
  return out + info;
}

std::vector<std::pair<std::string, bool>> Parse(const std::string& buf, FanotifyParse* r = nullptr,
                                                size_t shift = 0) {
  // Copied to an odd offset when `shift`: the parser must not rely on alignment.
  std::string space(shift, 'x');
  space += buf;
  std::vector<std::pair<std::string, bool>> got;
  FanotifyParse res =
      ParseFanotifyEvents(space.data() + shift, buf.size(), 4242, [&](const FanotifyEntry& e) {
        EXPECT_EQ(std::memcmp(e.fsid, "FSID-123", 8), 0);
        got.emplace_back(std::string(e.name), e.listing_changed);
      });
  if (r) *r = res;
  return got;
}

TEST(ParseFanotifyEvents, ReportsEachEntryWithItsKind) {
  FanotifyParse r;
  auto got = Parse(Event(FAN_CREATE, 7, "new") + Event(FAN_ATTRIB, 7, "chmodded"), &r);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], std::make_pair(std::string("new"), true));
  EXPECT_EQ(got[1], std::make_pair(std::string("chmodded"), false));
  EXPECT_EQ(r.events, 2u);
  EXPECT_FALSE(r.overflow);
}

TEST(ParseFanotifyEvents, SkipsThisProcesssEventsAndFlagsAnOverflow) {
  struct fanotify_event_metadata ov {};
  ov.event_len = sizeof ov;
  ov.vers = FANOTIFY_METADATA_VERSION;
  ov.metadata_len = sizeof ov;
  ov.mask = FAN_Q_OVERFLOW;
  ov.fd = FAN_NOFD;
  std::string overflow(reinterpret_cast<const char*>(&ov), sizeof ov);
  FanotifyParse r;
  auto got = Parse(Event(FAN_DELETE, 4242, "mine") + overflow + Event(FAN_DELETE, 1, "theirs"), &r);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].first, "theirs");
  EXPECT_TRUE(r.overflow);
  EXPECT_EQ(r.events, 3u);
}

TEST(ParseFanotifyEvents, WorksOnAnUnalignedBuffer) {
  auto got = Parse(Event(FAN_MOVED_TO, 1, "a") + Event(FAN_MOVED_FROM, 1, "bb"), nullptr, 3);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].first, "bb");
}

TEST(ParseFanotifyEvents, StopsAtLengthsThatDoNotFit) {
  const std::string good = Event(FAN_CREATE, 1, "good");
  // An event cut short: the first is reported, the partial second is not.
  std::string cut = good + Event(FAN_CREATE, 1, "cut");
  cut.resize(cut.size() - 5);
  EXPECT_EQ(Parse(cut).size(), 1u);
  // An event_len past the end of the buffer, and one shorter than the metadata.
  for (uint32_t bad : {uint32_t{1000}, uint32_t{3}}) {
    std::string b = good;
    std::memcpy(&b[0], &bad, sizeof bad);
    EXPECT_TRUE(Parse(b).empty()) << bad;
  }
  // An info record longer than its event.
  std::string rec = good;
  const uint16_t big = 500;
  std::memcpy(&rec[sizeof(struct fanotify_event_metadata) + 2], &big, sizeof big);
  EXPECT_TRUE(Parse(rec).empty());
  // A handle larger than any the kernel makes, and one that leaves no room for the name.
  EXPECT_TRUE(Parse(Event(FAN_CREATE, 1, "x", MAX_HANDLE_SZ + 1)).empty());
  std::string noname = good;
  const uint32_t hb = 40;  // the handle would run over the name and past the record
  std::memcpy(&noname[sizeof(struct fanotify_event_metadata) +
                      offsetof(struct fanotify_event_info_fid, handle)],
              &hb, sizeof hb);
  EXPECT_TRUE(Parse(noname).empty());
}

TEST(ParseFanotifyEvents, StopsAtAnUnknownMetadataVersion) {
  FanotifyParse r;
  auto got = Parse(Event(FAN_CREATE, 1, "before") + Event(FAN_CREATE, 1, "after", 8, 99), &r);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].first, "before");
  EXPECT_TRUE(r.bad_version);
}

}  // namespace
}  // namespace dfs::fs
