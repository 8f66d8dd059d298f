// Unit tests for fs/kernel_passthrough.h: the INIT negotiation that libfuse 3.14 cannot do itself.
// The custom I/O hooks are driven over pipes standing in for /dev/fuse: an INIT request goes
// through HookRead, libfuse's INIT reply through HookWritev, and the bytes that reach the "kernel"
// are checked field by field at the protocol's offsets (fuse_init_out, protocol 7.40).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>
#include <vector>

#include "fs/kernel_passthrough.h"
#include "fs/passthrough.h"

namespace dfs::fs {
namespace {

constexpr uint32_t kInitExt = 1u << 30;
constexpr uint32_t kFlags2Passthrough = 1u << 5;

void Put32(std::vector<uint8_t>& b, size_t off, uint32_t v) { memcpy(b.data() + off, &v, 4); }
void Put64(std::vector<uint8_t>& b, size_t off, uint64_t v) { memcpy(b.data() + off, &v, 8); }
uint32_t Get32(const std::vector<uint8_t>& b, size_t off) {
  uint32_t v;
  memcpy(&v, b.data() + off, 4);
  return v;
}

class KernelPassthroughTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/fs_kpt_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    Fd root(open(dir_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(root);
    struct stat st;
    ASSERT_EQ(fstat(root.get(), &st), 0);
    fs_ = std::make_unique<Passthrough>(std::move(root), st, FsConfig{});
    ASSERT_EQ(pipe(req_), 0);
    ASSERT_EQ(pipe(rep_), 0);
  }
  void TearDown() override {
    for (int fd : {req_[0], req_[1], rep_[0], rep_[1]}) close(fd);
    fs_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Feeds one INIT request (fuse_in_header + fuse_init_in) through HookRead.
  void KernelSendsInit(uint64_t unique, uint32_t flags, uint32_t flags2) {
    std::vector<uint8_t> msg(40 + 64, 0);
    Put32(msg, 0, static_cast<uint32_t>(msg.size()));  // len
    Put32(msg, 4, 26);                                 // FUSE_INIT
    Put64(msg, 8, unique);
    Put32(msg, 40 + 0, 7);   // major
    Put32(msg, 40 + 4, 45);  // minor
    Put32(msg, 40 + 12, flags);
    Put32(msg, 40 + 16, flags2);
    ASSERT_EQ(write(req_[1], msg.data(), msg.size()), static_cast<ssize_t>(msg.size()));
    std::vector<uint8_t> buf(4096);
    ASSERT_EQ(KernelPassthrough::HookRead(req_[0], buf.data(), buf.size(), fs_.get()),
              static_cast<ssize_t>(msg.size()));
  }

  // Writes a reply (fuse_out_header + a 64-byte fuse_init_out with the given flags, as libfuse
  // builds it) through HookWritev and returns the init_out the "kernel" received.
  std::vector<uint8_t> DaemonReplies(uint64_t unique, uint32_t flags, int32_t error = 0) {
    std::vector<uint8_t> hdr(16, 0), out(64, 0);
    Put32(hdr, 0, 16 + 64);
    Put32(hdr, 4, static_cast<uint32_t>(error));
    Put64(hdr, 8, unique);
    Put32(out, 0, 7);
    Put32(out, 4, 38);
    Put32(out, 12, flags);
    Put32(out, 20, 1u << 20);  // max_write
    std::array<iovec, 2> iov = {{{hdr.data(), hdr.size()}, {out.data(), out.size()}}};
    EXPECT_EQ(KernelPassthrough::HookWritev(rep_[1], iov.data(), 2, fs_.get()), 80);
    std::vector<uint8_t> got(80);
    EXPECT_EQ(read(rep_[0], got.data(), got.size()), 80);
    return std::vector<uint8_t>(got.begin() + 16, got.end());
  }

  std::string dir_;
  std::unique_ptr<Passthrough> fs_;
  int req_[2] = {-1, -1};
  int rep_[2] = {-1, -1};
};

TEST_F(KernelPassthroughTest, InitReplyAcceptsAnOfferedPassthrough) {
  fs_->kernel().WantForTest();
  KernelSendsInit(7, kInitExt | 0x1, kFlags2Passthrough);
  EXPECT_TRUE(fs_->kernel().offered());
  EXPECT_FALSE(fs_->kernel().enabled());  // not before the reply went out
  std::vector<uint8_t> out = DaemonReplies(7, 0x1);
  EXPECT_EQ(Get32(out, 12), kInitExt | 0x1u);     // flags: libfuse's, plus FUSE_INIT_EXT
  EXPECT_EQ(Get32(out, 32), kFlags2Passthrough);  // flags2: FUSE_PASSTHROUGH
  EXPECT_EQ(Get32(out, 36), 1u);                  // max_stack_depth
  EXPECT_EQ(Get32(out, 20), 1u << 20);            // max_write untouched
  EXPECT_TRUE(fs_->kernel().enabled());
}

TEST_F(KernelPassthroughTest, NothingChangesWhenTheKernelDoesNotOffer) {
  fs_->kernel().WantForTest();
  KernelSendsInit(7, kInitExt, 0);  // no FUSE_PASSTHROUGH in flags2
  EXPECT_FALSE(fs_->kernel().offered());
  std::vector<uint8_t> out = DaemonReplies(7, 0x1);
  EXPECT_EQ(Get32(out, 12), 0x1u);
  EXPECT_EQ(Get32(out, 32), 0u);
  EXPECT_EQ(Get32(out, 36), 0u);
  EXPECT_FALSE(fs_->kernel().enabled());
}

TEST_F(KernelPassthroughTest, FlagsTwoIsIgnoredWithoutInitExt) {
  fs_->kernel().WantForTest();
  KernelSendsInit(7, 0, kFlags2Passthrough);  // flags2 means nothing without FUSE_INIT_EXT
  EXPECT_FALSE(fs_->kernel().offered());
  EXPECT_EQ(Get32(DaemonReplies(7, 0), 32), 0u);
}

TEST_F(KernelPassthroughTest, NotWantedMeansNotAccepted) {
  KernelSendsInit(7, kInitExt, kFlags2Passthrough);  // offered, but the mount did not ask
  EXPECT_TRUE(fs_->kernel().offered());
  EXPECT_EQ(Get32(DaemonReplies(7, 0), 32), 0u);
  EXPECT_FALSE(fs_->kernel().enabled());
}

TEST_F(KernelPassthroughTest, OnlyTheInitReplyIsPatched) {
  fs_->kernel().WantForTest();
  KernelSendsInit(7, kInitExt, kFlags2Passthrough);
  // Another 64-byte reply (another request's unique) passes untouched; so does a failed INIT.
  EXPECT_EQ(Get32(DaemonReplies(8, 0), 32), 0u);
  EXPECT_FALSE(fs_->kernel().enabled());
  EXPECT_EQ(Get32(DaemonReplies(7, 0, -71), 32), 0u);
  EXPECT_FALSE(fs_->kernel().enabled());
  // The INIT reply itself, once.
  EXPECT_EQ(Get32(DaemonReplies(7, 0), 32), kFlags2Passthrough);
  EXPECT_TRUE(fs_->kernel().enabled());
  EXPECT_EQ(Get32(DaemonReplies(7, 0), 32), 0u);  // a later reply reusing the unique: untouched
}

TEST_F(KernelPassthroughTest, BackingFilesNeedAnEnabledMount) {
  // Without INIT agreeing, no ioctl is attempted: EPERM.
  Result<int32_t> id = fs_->kernel().OpenBacking(0);
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().sys_errno(), EPERM);
}

TEST_F(KernelPassthroughTest, ReadWithPollingWaitsForTheNextRequest) {
  // With a poll budget, HookRead polls the device before read(): a request written during the
  // budget is read whole, and so is one written only after it (read() then blocks as usual).
  fs_->kernel().PollForTest(std::chrono::microseconds{20000});
  for (int delay_ms : {2, 40}) {
    std::thread kernel([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds{delay_ms});
      ASSERT_EQ(write(req_[1], "request", 7), 7);
    });
    std::vector<uint8_t> buf(64);
    EXPECT_EQ(KernelPassthrough::HookRead(req_[0], buf.data(), buf.size(), fs_.get()), 7)
        << delay_ms;
    EXPECT_EQ(memcmp(buf.data(), "request", 7), 0) << delay_ms;
    kernel.join();
  }
  EXPECT_FALSE(fs_->kernel().offered());  // not an INIT: nothing recorded
}

}  // namespace
}  // namespace dfs::fs
