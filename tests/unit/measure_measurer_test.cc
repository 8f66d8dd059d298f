// Unit tests for the Measurer (measurement/measurement.h) over a software PCR backend: idempotence,
// ordering, crash recovery (torn tail, pending extend), divergence, rotation, determinism.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "crypto/hash.h"
#include "measurement/ima_log.h"
#include "measurement/measurement.h"
#include "measurement/tpm.h"

namespace dfs {
namespace {

// A software TPM: sha1 + sha256 banks of every PCR, with injectable faults.
struct FakeTpmState {
  std::map<uint32_t, std::vector<Digest>> pcrs;
  int extends = 0;
  bool fail_extend = false;        // refuse (PCR untouched)
  bool lose_extend_reply = false;  // extend, then report failure (reply lost)
  bool fail_read = false;
};

class FakeTpm : public PcrBackend {
 public:
  explicit FakeTpm(std::shared_ptr<FakeTpmState> s) : s_(std::move(s)) {}
  Result<std::vector<HashAlgo>> Banks(uint32_t) override {
    return std::vector<HashAlgo>{HashAlgo::kSha1, HashAlgo::kSha256};
  }
  Status Extend(uint32_t pcr, const std::vector<Digest>& d) override {
    if (s_->fail_extend) return Status(Code::kUnavailable, "fake TPM: extend refused");
    auto& v = Get(pcr);
    for (size_t i = 0; i < d.size(); ++i) {
      auto h = std::move(Hasher::Create(d[i].algo).value());
      h.Update(v[i].bytes.data(), v[i].bytes.size());
      h.Update(d[i].bytes.data(), d[i].bytes.size());
      v[i] = h.Finish();
    }
    ++s_->extends;
    if (s_->lose_extend_reply) return Status(Code::kUnavailable, "fake TPM: reply lost");
    return Status::Ok();
  }
  Result<std::vector<Digest>> Read(uint32_t pcr, const std::vector<HashAlgo>&) override {
    if (s_->fail_read) return Status(Code::kUnavailable, "fake TPM: read failed");
    return Get(pcr);
  }
  std::string Describe() const override { return "fake"; }

 private:
  std::vector<Digest>& Get(uint32_t pcr) {
    auto it = s_->pcrs.find(pcr);
    if (it == s_->pcrs.end()) {
      it = s_->pcrs
               .emplace(pcr,
                        std::vector<Digest>{Digest{HashAlgo::kSha1, std::vector<uint8_t>(20)},
                                            Digest{HashAlgo::kSha256, std::vector<uint8_t>(32)}})
               .first;
    }
    return it->second;
  }
  std::shared_ptr<FakeTpmState> s_;
};

class MeasurerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/measure_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    cfg_.log_dir = dir_ + "/log";
    tpm_ = std::make_shared<FakeTpmState>();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Result<std::unique_ptr<Measurer>> Make(bool with_tpm = true) {
    return CreateMeasurerWithBackend(cfg_, with_tpm ? std::make_unique<FakeTpm>(tpm_) : nullptr);
  }
  std::vector<ima::Entry> Entries() {
    std::ifstream f(cfg_.log_dir + "/" + kBinaryLogName, std::ios::binary);
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    auto p = ima::ParseBinary(reinterpret_cast<const uint8_t*>(s.data()), s.size());
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return p.ok() ? p->entries : std::vector<ima::Entry>{};
  }
  std::string Ascii() {
    std::ifstream f(cfg_.log_dir + "/" + kAsciiLogName);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
  long Lines() {
    std::string a = Ascii();
    return std::count(a.begin(), a.end(), '\n');
  }
  // True if replaying the binary log gives the fake TPM's PCR.
  bool LogMatchesTpm() {
    auto r = ima::ReplayAll(Entries(), {HashAlgo::kSha1, HashAlgo::kSha256});
    return r.ok() && (*r)[cfg_.pcr] == tpm_->pcrs[cfg_.pcr];
  }
  static SourceInfo Src(int i) {
    SourceInfo s;
    s.id = i;
    s.name = "pkg" + std::to_string(i) + "-1-1.noarch";
    s.blob_digest = *HashBytes(HashAlgo::kSha256, "blob" + std::to_string(i));
    return s;
  }
  static Digest D(const std::string& s) { return *HashBytes(HashAlgo::kSha256, s); }

  std::string dir_;
  MeasurerConfig cfg_;
  std::shared_ptr<FakeTpmState> tpm_;
};

TEST_F(MeasurerTest, SourceOncePerBlobFileOncePerDigestAndPath) {
  auto m = Make();
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_TRUE((*m)->MeasureSource(Src(1)).ok());
  ASSERT_TRUE((*m)->MeasureSource(Src(1)).ok());
  ASSERT_TRUE((*m)->MeasureFile(D("x"), "/a").ok());
  ASSERT_TRUE((*m)->MeasureFile(D("x"), "/a").ok());
  ASSERT_TRUE((*m)->MeasureFile(D("x"), "/b").ok());  // same digest, other path: new entry
  ASSERT_TRUE((*m)->MeasureFile(D("y"), "/a").ok());  // other digest, same path: new entry
  auto e = Entries();
  ASSERT_EQ(e.size(), 4u);
  EXPECT_EQ(e[0].path, "rpm-pkg1-1-1.noarch");
  EXPECT_EQ(e[0].digest, Src(1).blob_digest);
  EXPECT_EQ(e[1].path, "/a");
  EXPECT_EQ(tpm_->extends, 4);
  EXPECT_TRUE(LogMatchesTpm());
  EXPECT_EQ(Lines(), 4);
}

TEST_F(MeasurerTest, AggregateIsFirstEntryAndDocumentedText) {
  AggregateInfo info;
  info.source = "/srv/web";
  info.mountpoint = "/mnt/web";
  info.store_dir = "/var/lib/digestfs";
  info.store_generation = 7;
  info.mode = "enforce";
  cfg_.aggregate = info;
  auto m = Make();
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_TRUE((*m)->MeasureSource(Src(1)).ok());
  auto e = Entries();
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].path, kAggregateName);
  EXPECT_EQ(AggregateText(info),
            "digestfs-aggregate v1\nsource=/srv/web\nmountpoint=/mnt/web\nstore=/var/lib/digestfs\n"
            "store_generation=7\npolicy=none\nmode=enforce\n");
  EXPECT_EQ(e[0].digest, *HashBytes(HashAlgo::kSha256, AggregateText(info)));
}

TEST_F(MeasurerTest, NullMeasurerLogsWithoutTpm) {
  auto m = Make(/*with_tpm=*/false);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_TRUE((*m)->MeasureFile(D("x"), "/a").ok());
  ASSERT_TRUE((*m)->MeasureFile(D("x"), "/a").ok());
  EXPECT_EQ(Entries().size(), 1u);
  EXPECT_EQ(tpm_->extends, 0);
}

TEST_F(MeasurerTest, FailedExtendIsRolledForwardNotDuplicated) {
  auto m = Make();
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE((*m)->MeasureSource(Src(1)).ok());
  tpm_->fail_extend = true;
  Status s = (*m)->MeasureSource(Src(2));
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_EQ(Entries().size(), 2u);  // the entry is the write-ahead record
  EXPECT_FALSE(LogMatchesTpm());
  // Still down: every measurement fails (fail closed), nothing more is appended.
  EXPECT_EQ((*m)->MeasureSource(Src(3)).code(), Code::kUnavailable);
  EXPECT_EQ(Entries().size(), 2u);
  tpm_->fail_extend = false;
  ASSERT_TRUE((*m)->MeasureSource(Src(2)).ok());  // rolled forward, not logged again
  EXPECT_EQ(Entries().size(), 2u);
  EXPECT_TRUE(LogMatchesTpm());
  ASSERT_TRUE((*m)->MeasureSource(Src(3)).ok());
  EXPECT_EQ(Entries().size(), 3u);
  EXPECT_TRUE(LogMatchesTpm());
}

TEST_F(MeasurerTest, LostExtendReplyIsNotExtendedTwice) {
  auto m = Make();
  ASSERT_TRUE(m.ok());
  tpm_->lose_extend_reply = true;
  EXPECT_FALSE((*m)->MeasureSource(Src(1)).ok());
  tpm_->lose_extend_reply = false;
  EXPECT_TRUE(LogMatchesTpm());  // the extend did happen
  ASSERT_TRUE((*m)->MeasureSource(Src(2)).ok());
  EXPECT_EQ(tpm_->extends, 2);
  EXPECT_EQ(Entries().size(), 2u);
  EXPECT_TRUE(LogMatchesTpm());
}

TEST_F(MeasurerTest, CrashBetweenAppendAndExtendIsRolledForwardAtStart) {
  {
    auto m = Make();
    ASSERT_TRUE(m.ok());
    ASSERT_TRUE((*m)->MeasureSource(Src(1)).ok());
    tpm_->fail_extend = true;  // as if the process died after the append
    EXPECT_FALSE((*m)->MeasureSource(Src(2)).ok());
    tpm_->fail_extend = false;
  }
  EXPECT_FALSE(LogMatchesTpm());
  auto m = Make();  // a restart
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_TRUE(LogMatchesTpm());
  EXPECT_EQ(Entries().size(), 2u);
}

TEST_F(MeasurerTest, TornTailIsTruncatedAndAsciiRebuilt) {
  {
    auto m = Make();
    ASSERT_TRUE(m.ok());
    ASSERT_TRUE((*m)->MeasureSource(Src(1)).ok());
  }
  std::string bin = cfg_.log_dir + "/" + kBinaryLogName;
  auto good_size = std::filesystem::file_size(bin);
  {
    std::ofstream f(bin, std::ios::binary | std::ios::app);
    f.write("\x17\x00\x00\x00garbage", 11);  // a half-written record
    std::ofstream a(cfg_.log_dir + "/" + kAsciiLogName, std::ios::app);
    a << "half a line";
  }
  auto m = Make();
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(std::filesystem::file_size(bin), good_size);
  EXPECT_EQ(Lines(), 1);
  EXPECT_EQ(Ascii().find("half"), std::string::npos);
  ASSERT_TRUE((*m)->MeasureSource(Src(2)).ok());
  EXPECT_TRUE(LogMatchesTpm());
}

TEST_F(MeasurerTest, ForeignExtendIsDivergenceAndFailsClosed) {
  auto m = Make();
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE((*m)->MeasureSource(Src(1)).ok());
  // Someone else extends the PCR; a new Measurer must refuse to continue this log.
  tpm_->pcrs[cfg_.pcr][0] = *HashBytes(HashAlgo::kSha1, "foreign");
  auto m2 = Make();
  EXPECT_EQ(m2.status().code(), Code::kCorrupt);
  EXPECT_NE(m2.status().message().find("diverge"), std::string::npos);
}

TEST_F(MeasurerTest, PcrResetUnderARunningMeasurerIsDivergence) {
  auto m = Make();
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE((*m)->MeasureSource(Src(1)).ok());
  ASSERT_TRUE((*m)->MeasureSource(Src(2)).ok());
  tpm_->fail_extend = true;
  EXPECT_FALSE((*m)->MeasureSource(Src(3)).ok());  // pending
  tpm_->fail_extend = false;
  tpm_->pcrs.clear();  // reset while running: entries 1 and 2 were confirmed, so not re-extended
  Status s = (*m)->MeasureSource(Src(4));
  EXPECT_EQ(s.code(), Code::kCorrupt) << s.ToString();
  EXPECT_EQ(tpm_->extends, 2);
  EXPECT_EQ(Entries().size(), 3u);
}

// A reset that no call saw fail (the connection survived it): the check before each entry finds
// the PCR at its reset value and refuses, instead of extending the reset PCR.
TEST_F(MeasurerTest, SilentTpmResetIsCaughtBeforeTheNextEntry) {
  auto m = Make();
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE((*m)->MeasureSource(Src(1)).ok());
  const int extends = tpm_->extends;
  const size_t entries = Entries().size();
  tpm_->pcrs.clear();
  Status s = (*m)->MeasureSource(Src(2));
  EXPECT_EQ(s.code(), Code::kCorrupt) << s.ToString();
  EXPECT_NE(s.message().find("reset"), std::string::npos) << s.ToString();
  EXPECT_EQ(tpm_->extends, extends);      // nothing extended into the reset PCR
  EXPECT_EQ(Entries().size(), entries);  // nothing appended
  EXPECT_EQ((*m)->MeasureSource(Src(3)).code(), Code::kCorrupt);  // and it stays refused
}

TEST_F(MeasurerTest, TpmResetRotatesTheLogAtStart) {
  {
    auto m = Make();
    ASSERT_TRUE(m.ok());
    ASSERT_TRUE((*m)->MeasureSource(Src(1)).ok());
  }
  tpm_->pcrs.clear();  // reboot / TPM reset: PCR back to zero
  auto m = Make();
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(Entries().size(), 0u);
  int rotated = 0;
  for (auto& p : std::filesystem::directory_iterator(cfg_.log_dir)) {
    if (p.path().filename().string().rfind(std::string(kBinaryLogName) + ".", 0) == 0) ++rotated;
  }
  EXPECT_EQ(rotated, 1);
  ASSERT_TRUE((*m)->MeasureSource(Src(1)).ok());  // new log, new measurer: measured again
  EXPECT_TRUE(LogMatchesTpm());
}

TEST_F(MeasurerTest, TwoMeasurersShareOneLog) {
  auto a = Make();
  ASSERT_TRUE(a.ok());
  auto b = Make();
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE((*a)->MeasureSource(Src(1)).ok());
  ASSERT_TRUE((*b)->MeasureSource(Src(2)).ok());
  ASSERT_TRUE((*a)->MeasureSource(Src(3)).ok());
  EXPECT_EQ(Entries().size(), 3u);
  EXPECT_TRUE(LogMatchesTpm());
}

TEST_F(MeasurerTest, ConcurrentCallersMeasureEachSubjectOnce) {
  auto m = Make();
  ASSERT_TRUE(m.ok());
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        // Every thread measures the same 20 sources and 10 files, in a different order.
        int k = (i + t * 3) % 20;
        if (!(*m)->MeasureSource(Src(k)).ok()) ++failures;
        if (!(*m)->MeasureFile(D("f" + std::to_string(k % 10)), "/f" + std::to_string(k % 10))
                 .ok()) {
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Entries().size(), 30u);
  EXPECT_EQ(tpm_->extends, 30);
  EXPECT_TRUE(LogMatchesTpm());
}

TEST_F(MeasurerTest, ReservedPcrsRefused) {
  for (uint32_t pcr : {17u, 22u, 24u}) {
    cfg_.pcr = pcr;
    EXPECT_EQ(Make().status().code(), Code::kInvalidArgument) << pcr;
  }
}

// The kernel's IMA on PCR 10: a "kernel" that appends to its own binary log and extends the fake
// TPM, as ima_add_template_entry does (list first, then the extend).
class KernelLogTest : public MeasurerTest {
 protected:
  void SetUp() override {
    MeasurerTest::SetUp();
    cfg_.pcr = kImaPcr;
    kernel_log_ = dir_ + "/kernel_binary_runtime_measurements";
    std::ofstream(kernel_log_, std::ios::binary).close();
    cfg_.kernel_log = kernel_log_;
  }
  // Appends an entry to the kernel's log; extends the TPM unless `extend` is false.
  ima::Entry KernelMeasures(const std::string& path, bool extend = true) {
    auto e = ima::MakeImaNgEntry(kImaPcr, D("kernel " + path), path);
    EXPECT_TRUE(e.ok());
    std::vector<uint8_t> rec = ima::EncodeBinary(*e);
    std::ofstream(kernel_log_, std::ios::binary | std::ios::app)
        .write(reinterpret_cast<const char*>(rec.data()), rec.size());
    if (extend) KernelExtends(*e);
    return *e;
  }
  void KernelExtends(const ima::Entry& e) {
    FakeTpm t(tpm_);
    std::vector<Digest> h = {*ima::BankTemplateHash(e, HashAlgo::kSha1),
                             *ima::BankTemplateHash(e, HashAlgo::kSha256)};
    ASSERT_TRUE(t.Extend(kImaPcr, h).ok());
  }
  std::vector<std::string> Paths() {
    std::vector<std::string> v;
    for (const auto& e : Entries()) v.push_back(e.path);
    return v;
  }
  std::string kernel_log_;
};

TEST_F(KernelLogTest, KernelEntriesAreCarriedInOrderAndNotExtendedAgain) {
  KernelMeasures("boot_aggregate");
  auto m = Make();
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(Paths(), std::vector<std::string>{"boot_aggregate"});
  ASSERT_TRUE((*m)->MeasureFile(D("x"), "/a").ok());
  KernelMeasures("/k1");  // the kernel measures between two of ours
  ASSERT_TRUE((*m)->MeasureFile(D("y"), "/b").ok());
  EXPECT_EQ(Paths(), (std::vector<std::string>{"boot_aggregate", "/a", "/k1", "/b"}));
  EXPECT_EQ(tpm_->extends, 4);  // 2 by the kernel, 2 by us: nothing twice
  EXPECT_TRUE(LogMatchesTpm());
  EXPECT_EQ(Lines(), 4);
}

TEST_F(KernelLogTest, RestartCountsCopiedEntriesAndSecondMeasurerSharesThem) {
  KernelMeasures("boot_aggregate");
  {
    auto m = Make();
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    ASSERT_TRUE((*m)->MeasureFile(D("x"), "/a").ok());
  }
  KernelMeasures("/k1");
  auto m1 = Make();  // a restart: boot_aggregate is already in the log, /k1 is not
  ASSERT_TRUE(m1.ok()) << m1.status().ToString();
  auto m2 = Make();  // a second mount on the same log directory
  ASSERT_TRUE(m2.ok()) << m2.status().ToString();
  KernelMeasures("/k2");
  ASSERT_TRUE((*m2)->MeasureFile(D("y"), "/b").ok());
  ASSERT_TRUE((*m1)->MeasureFile(D("z"), "/c").ok());  // reads /k2 and /b back, copies nothing
  EXPECT_EQ(Paths(), (std::vector<std::string>{"boot_aggregate", "/a", "/k1", "/k2", "/b", "/c"}));
  EXPECT_TRUE(LogMatchesTpm());
}

TEST_F(KernelLogTest, RebootRotatesAndStartsFromTheKernelsEntries) {
  KernelMeasures("boot_aggregate");
  {
    auto m = Make();
    ASSERT_TRUE(m.ok());
    ASSERT_TRUE((*m)->MeasureFile(D("x"), "/a").ok());
  }
  // Reboot: the TPM starts over and the kernel measures its boot_aggregate again.
  tpm_->pcrs.clear();
  std::ofstream(kernel_log_, std::ios::binary | std::ios::trunc).close();
  KernelMeasures("boot_aggregate");
  auto m = Make();
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_TRUE((*m)->MeasureFile(D("y"), "/b").ok());
  EXPECT_EQ(Paths(), (std::vector<std::string>{"boot_aggregate", "/b"}));
  EXPECT_TRUE(LogMatchesTpm());
}

TEST_F(KernelLogTest, KernelEntryNotYetExtendedIsWaitedForNeverExtendedByUs) {
  KernelMeasures("boot_aggregate");
  auto m = Make();
  ASSERT_TRUE(m.ok());
  // Listed by the kernel but not extended (it never will be here): we must not extend it.
  KernelMeasures("/k1", /*extend=*/false);
  int before = tpm_->extends;
  EXPECT_EQ((*m)->MeasureFile(D("x"), "/a").code(), Code::kCorrupt);
  EXPECT_EQ(tpm_->extends, before);
  EXPECT_EQ(Paths(), (std::vector<std::string>{"boot_aggregate", "/k1"}));
}

TEST_F(KernelLogTest, KernelExtendRacingOursIsDivergenceNotSilence) {
  KernelMeasures("boot_aggregate");
  auto m = Make();
  ASSERT_TRUE(m.ok());
  // The kernel extends /k1 into the PCR, but its log shows it only after our entry is written.
  auto k1 = ima::MakeImaNgEntry(kImaPcr, D("kernel /k1"), "/k1");
  ASSERT_TRUE(k1.ok());
  KernelExtends(*k1);
  EXPECT_EQ((*m)->MeasureFile(D("x"), "/a").code(), Code::kCorrupt);
}

TEST_F(KernelLogTest, ExplicitMissingKernelLogAndOtherTemplatesRefused) {
  cfg_.kernel_log = dir_ + "/nonexistent";
  EXPECT_EQ(Make().status().code(), Code::kNotFound);
  cfg_.kernel_log = kernel_log_;
  ima::Entry e;
  e.pcr = kImaPcr;
  e.template_name = "ima-sig";
  e.template_data = {1, 2, 3};
  e.template_hash.assign(20, 1);
  std::vector<uint8_t> rec = ima::EncodeBinary(e);
  std::ofstream(kernel_log_, std::ios::binary)
      .write(reinterpret_cast<const char*>(rec.data()), rec.size());
  auto m = Make();
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), Code::kUnsupported) << m.status().ToString();
}

TEST_F(KernelLogTest, NoKernelLogAtAllIsPlainPcr10) {
  cfg_.kernel_log = "";
  auto m = Make();
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_TRUE((*m)->MeasureFile(D("x"), "/a").ok());
  EXPECT_EQ(Paths(), std::vector<std::string>{"/a"});
  EXPECT_TRUE(LogMatchesTpm());
}

TEST_F(MeasurerTest, MeasureAllSourcesIsOrderIndependent) {
  std::vector<SourceInfo> v = {Src(3), Src(1), Src(2)};
  auto removed = Src(4);
  removed.state = SourceState::kRemoved;
  v.push_back(removed);
  std::vector<Digest> first;
  for (int run = 0; run < 2; ++run) {
    TearDown();
    SetUp();
    auto m = Make();
    ASSERT_TRUE(m.ok());
    auto n = MeasureAllSources(**m, v);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 3u);
    auto e = Entries();
    ASSERT_EQ(e.size(), 3u);
    EXPECT_EQ(e[0].path, "rpm-pkg1-1-1.noarch");
    EXPECT_EQ(e[2].path, "rpm-pkg3-1-1.noarch");
    if (run == 0)
      first = tpm_->pcrs[cfg_.pcr];
    else
      EXPECT_EQ(tpm_->pcrs[cfg_.pcr], first);
    std::reverse(v.begin(), v.end());
  }
}

TEST(MeasureNames, SourceEntryName) {
  SourceInfo s;
  s.kind = SourceKind::kRpm;
  s.name = "hello-2.0-1.x86_64";
  EXPECT_EQ(SourceEntryName(s), "rpm-hello-2.0-1.x86_64");
  s.kind = SourceKind::kTlv;
  s.name = "tlv-base";
  EXPECT_EQ(SourceEntryName(s), "tlv-base");
}

}  // namespace
}  // namespace dfs
