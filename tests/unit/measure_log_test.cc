// Unit tests for measurement/ima_log.h: golden bytes of one ima-ng entry (expected values computed
// independently from the format description), parsing, tamper detection and replay.
#include <gtest/gtest.h>

#include <random>

#include "crypto/hash.h"
#include "measurement/ima_log.h"

namespace dfs::ima {
namespace {

// sha256("") at path "/a", PCR 23.
constexpr char kTemplateData[] =
    "280000007368613235363a00e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    "030000002f6100";
constexpr char kRecord[] =
    "17000000da451298750d9fe6b3509ddde65c11a99212e60a06000000696d612d6e6733000000"
    "280000007368613235363a00e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    "030000002f6100";
constexpr char kSha1TemplateHash[] = "da451298750d9fe6b3509ddde65c11a99212e60a";
constexpr char kSha256TemplateHash[] =
    "634f405be6a438be522ff04f89861160a921787af54b76df4e926e321bbb7cee";
constexpr char kPcrSha1[] = "c1391de1c25078bd6a1b50ff41f979b06704a161";
constexpr char kPcrSha256[] = "f4033781e023471c58a4e5a82550c702c02f9d5fa00346bfa18f409c9cf6fbd5";

Digest EmptySha256() { return *HashBytes(HashAlgo::kSha256, ""); }

TEST(MeasureLog, GoldenTemplateDataAndRecord) {
  auto e = MakeImaNgEntry(23, EmptySha256(), "/a");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(ToHex(e->template_data), kTemplateData);
  EXPECT_EQ(ToHex(e->template_hash), kSha1TemplateHash);
  EXPECT_EQ(ToHex(EncodeBinary(*e)), kRecord);
  EXPECT_EQ(
      EncodeAscii(*e),
      std::string("23 ") + kSha1TemplateHash +
          " ima-ng sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 /a\n");
}

TEST(MeasureLog, PerBankTemplateHashIsTheBankHashOfTheTemplateData) {
  auto e = MakeImaNgEntry(23, EmptySha256(), "/a");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(BankTemplateHash(*e, HashAlgo::kSha1)->Hex(), kSha1TemplateHash);
  EXPECT_EQ(BankTemplateHash(*e, HashAlgo::kSha256)->Hex(), kSha256TemplateHash);
  auto r = ReplayAll({*e}, {HashAlgo::kSha1, HashAlgo::kSha256});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->count(23), 1u);
  EXPECT_EQ((*r)[23][0].Hex(), kPcrSha1);
  EXPECT_EQ((*r)[23][1].Hex(), kPcrSha256);
}

TEST(MeasureLog, ParseBinaryRoundTrip) {
  auto bytes = *FromHex(kRecord);
  auto e2 = *MakeImaNgEntry(23, *HashBytes(HashAlgo::kSha512, "x"), "/usr/bin/hello world");
  auto more = EncodeBinary(e2);
  bytes.insert(bytes.end(), more.begin(), more.end());
  auto p = ParseBinary(bytes.data(), bytes.size());
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(p->entries.size(), 2u);
  EXPECT_FALSE(p->truncated_tail);
  EXPECT_EQ(p->offsets[1], 89u);
  EXPECT_EQ(p->entries[0].path, "/a");
  EXPECT_EQ(p->entries[0].digest, EmptySha256());
  EXPECT_EQ(p->entries[1].path, "/usr/bin/hello world");
  EXPECT_EQ(p->entries[1].digest.algo, HashAlgo::kSha512);
  EXPECT_TRUE(TemplateHashValid(p->entries[1]));
}

TEST(MeasureLog, TornTailIsReportedNotAnError) {
  auto bytes = *FromHex(kRecord);
  auto torn = bytes;
  torn.insert(torn.end(), bytes.begin(), bytes.begin() + 50);
  auto p = ParseBinary(torn.data(), torn.size());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->entries.size(), 1u);
  EXPECT_TRUE(p->truncated_tail);
  EXPECT_EQ(p->complete_bytes, 89u);
}

TEST(MeasureLog, CorruptLengthsAreErrors) {
  auto bytes = *FromHex(kRecord);
  auto bad = bytes;
  bad[24] = 0;  // template name length 0
  auto p = ParseBinary(bad.data(), bad.size());
  EXPECT_EQ(p.status().code(), Code::kCorrupt);
  EXPECT_NE(p.status().message().find("entry 0 at byte 0"), std::string::npos);
  bad = bytes;
  bad[34] = 0xff;  // data length huge
  bad[35] = 0xff;
  bad[36] = 0xff;
  EXPECT_EQ(ParseBinary(bad.data(), bad.size()).status().code(), Code::kCorrupt);
  bad = bytes;
  bad[38 + 4] = 'X';  // "sha256" -> "Xha256": unknown algorithm inside ima-ng data
  EXPECT_EQ(ParseBinary(bad.data(), bad.size()).status().code(), Code::kCorrupt);
}

TEST(MeasureLog, TamperedDataFailsTemplateHash) {
  auto bytes = *FromHex(kRecord);
  bytes[bytes.size() - 2] = 'b';  // "/a" -> "/b"
  auto p = ParseBinary(bytes.data(), bytes.size());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->entries[0].path, "/b");
  EXPECT_FALSE(TemplateHashValid(p->entries[0]));
}

TEST(MeasureLog, AsciiRoundTripWithHostileName) {
  std::string name = "/tmp/evil\n23 0000 ima-ng sha256:00 /x\\y";
  auto e = *MakeImaNgEntry(23, EmptySha256(), name);
  std::string line = EncodeAscii(e);
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1);
  auto back = ParseAscii(line);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ((*back)[0].path, name);
  EXPECT_TRUE(TemplateHashValid((*back)[0]));
  EXPECT_EQ((*back)[0].template_data, e.template_data);
}

TEST(MeasureLog, AsciiErrorsNameTheLine) {
  auto r = ParseAscii("23 abc ima-ng sha256:00 /x\n");
  EXPECT_EQ(r.status().code(), Code::kCorrupt);
  EXPECT_NE(r.status().message().find("line 1"), std::string::npos);
  EXPECT_EQ(ParseAscii("23 da451298750d9fe6b3509ddde65c11a99212e60a ima-sig sha256:00 /x\n")
                .status()
                .code(),
            Code::kCorrupt);
}

TEST(MeasureLog, LongPathIsCutAndMarked) {
  EXPECT_EQ(ima::MeasuredPath("/a"), "/a");
  std::string exact(ima::kMaxPathLen, 'x');
  EXPECT_EQ(ima::MeasuredPath(exact), exact);
  std::string longer = "/" + std::string(5000, 'y');
  std::string cut = ima::MeasuredPath(longer);
  EXPECT_EQ(cut.size(), ima::kMaxPathLen);
  EXPECT_EQ(cut.substr(0, 4081), longer.substr(0, 4081));
  EXPECT_TRUE(cut.ends_with("...[truncated]"));
  EXPECT_TRUE(MakeImaNgEntry(23, EmptySha256(), cut).ok());
  EXPECT_EQ(MakeImaNgEntry(23, EmptySha256(), longer).status().code(), Code::kInvalidArgument);
}

TEST(MeasureLog, BadInputsRefused) {
  EXPECT_EQ(MakeImaNgEntry(23, Digest{}, "/a").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(MakeImaNgEntry(23, EmptySha256(), std::string("a\0b", 3)).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(MakeImaNgEntry(23, EmptySha256(), std::string(5000, 'a')).status().code(),
            Code::kInvalidArgument);
}

TEST(MeasureLog, ViolationExtendsOnes) {
  auto e = *MakeImaNgEntry(23, EmptySha256(), "/a");
  e.template_hash.assign(20, 0);
  EXPECT_TRUE(TemplateHashValid(e));
  auto h = BankTemplateHash(e, HashAlgo::kSha256);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->bytes, std::vector<uint8_t>(32, 0xff));
}

// Mutated and truncated logs never crash the parsers; each result is either a parse or kCorrupt.
TEST(MeasureLog, MutatedInputNeverCrashes) {
  std::vector<uint8_t> log;
  for (int i = 0; i < 4; ++i) {
    auto e = *MakeImaNgEntry(23, *HashBytes(HashAlgo::kSha256, std::to_string(i)),
                             "/p/" + std::to_string(i));
    auto b = EncodeBinary(e);
    log.insert(log.end(), b.begin(), b.end());
  }
  std::mt19937 rng(42);
  for (int iter = 0; iter < 20000; ++iter) {
    auto m = log;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) m[rng() % m.size()] = static_cast<uint8_t>(rng());
    m.resize(rng() % (m.size() + 1));
    auto p = ParseBinary(m.data(), m.size());
    if (!p.ok()) {
      EXPECT_EQ(p.status().code(), Code::kCorrupt);
      continue;
    }
    for (const auto& e : p->entries) {
      (void)TemplateHashValid(e);
      (void)EncodeAscii(e);
    }
  }
  std::string ascii;
  auto parsed = ParseBinary(log.data(), log.size());
  ASSERT_TRUE(parsed.ok());
  for (const auto& e : parsed->entries) ascii += EncodeAscii(e);
  const char kAlphabet[] = "0123456789abcdef :\\x\nsha256ima-ng";
  for (int iter = 0; iter < 20000; ++iter) {
    std::string t = ascii;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) t[rng() % t.size()] = kAlphabet[rng() % (sizeof kAlphabet - 1)];
    t.resize(rng() % (t.size() + 1));
    auto a = ParseAscii(t);
    if (!a.ok()) {
      EXPECT_EQ(a.status().code(), Code::kCorrupt);
    }
  }
}

}  // namespace
}  // namespace dfs::ima
