#include "common/digest.h"

namespace dfs {

std::string_view HashAlgoName(HashAlgo a) {
  switch (a) {
    case HashAlgo::kMd5: return "md5";
    case HashAlgo::kSha1: return "sha1";
    case HashAlgo::kSha224: return "sha224";
    case HashAlgo::kSha256: return "sha256";
    case HashAlgo::kSha384: return "sha384";
    case HashAlgo::kSha512: return "sha512";
    case HashAlgo::kSm3: return "sm3";
    case HashAlgo::kUnknown: break;
  }
  return "unknown";
}

HashAlgo HashAlgoFromName(std::string_view n) {
  for (HashAlgo a : {HashAlgo::kMd5, HashAlgo::kSha1, HashAlgo::kSha224, HashAlgo::kSha256,
                     HashAlgo::kSha384, HashAlgo::kSha512, HashAlgo::kSm3}) {
    if (HashAlgoName(a) == n) return a;
  }
  return HashAlgo::kUnknown;
}

size_t HashAlgoSize(HashAlgo a) {
  switch (a) {
    case HashAlgo::kMd5: return 16;
    case HashAlgo::kSha1: return 20;
    case HashAlgo::kSha224: return 28;
    case HashAlgo::kSha256: return 32;
    case HashAlgo::kSha384: return 48;
    case HashAlgo::kSha512: return 64;
    case HashAlgo::kSm3: return 32;
    case HashAlgo::kUnknown: break;
  }
  return 0;
}

bool HashAlgoIsWeak(HashAlgo a) { return a == HashAlgo::kMd5 || a == HashAlgo::kSha1; }

HashAlgo HashAlgoFromKernelId(uint16_t id) {
  switch (id) {
    case 1: return HashAlgo::kMd5;
    case 2: return HashAlgo::kSha1;
    case 4: return HashAlgo::kSha256;
    case 5: return HashAlgo::kSha384;
    case 6: return HashAlgo::kSha512;
    case 7: return HashAlgo::kSha224;
    case 17: return HashAlgo::kSm3;
    default: return HashAlgo::kUnknown;
  }
}

uint16_t HashAlgoToKernelId(HashAlgo a) {
  switch (a) {
    case HashAlgo::kMd5: return 1;
    case HashAlgo::kSha1: return 2;
    case HashAlgo::kSha256: return 4;
    case HashAlgo::kSha384: return 5;
    case HashAlgo::kSha512: return 6;
    case HashAlgo::kSha224: return 7;
    case HashAlgo::kSm3: return 17;
    case HashAlgo::kUnknown: break;
  }
  return 0;
}

HashAlgo HashAlgoFromPgpId(uint32_t id) {
  switch (id) {
    case 1: return HashAlgo::kMd5;
    case 2: return HashAlgo::kSha1;
    case 8: return HashAlgo::kSha256;
    case 9: return HashAlgo::kSha384;
    case 10: return HashAlgo::kSha512;
    case 11: return HashAlgo::kSha224;
    default: return HashAlgo::kUnknown;
  }
}

uint32_t HashAlgoToPgpId(HashAlgo a) {
  switch (a) {
    case HashAlgo::kMd5: return 1;
    case HashAlgo::kSha1: return 2;
    case HashAlgo::kSha256: return 8;
    case HashAlgo::kSha384: return 9;
    case HashAlgo::kSha512: return 10;
    case HashAlgo::kSha224: return 11;
    default: return 0;
  }
}

std::string ToHex(const uint8_t* data, size_t len) {
  static const char* kDigits = "0123456789abcdef";
  std::string s(len * 2, '0');
  for (size_t i = 0; i < len; ++i) {
    s[2 * i] = kDigits[data[i] >> 4];
    s[2 * i + 1] = kDigits[data[i] & 0xf];
  }
  return s;
}

static int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::vector<uint8_t>> FromHex(std::string_view hex) {
  if (hex.size() % 2 != 0) return Status(Code::kInvalidArgument, "hex string has odd length");
  std::vector<uint8_t> out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = HexVal(hex[2 * i]), lo = HexVal(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return Status(Code::kInvalidArgument, "not a hex string");
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

std::string Digest::Hex() const { return ToHex(bytes); }

std::string Digest::ToString() const {
  std::string s(HashAlgoName(algo));
  s += ':';
  s += Hex();
  return s;
}

Result<Digest> Digest::FromHex(HashAlgo algo, std::string_view hex) {
  if (algo == HashAlgo::kUnknown) return Status(Code::kInvalidArgument, "unknown hash algorithm");
  auto bytes = dfs::FromHex(hex);
  if (!bytes.ok()) return bytes.status();
  if (bytes->size() != HashAlgoSize(algo)) {
    return Status(Code::kInvalidArgument,
                  std::string(HashAlgoName(algo)) + " digest must be " +
                      std::to_string(HashAlgoSize(algo) * 2) + " hex characters");
  }
  return Digest{algo, std::move(bytes).value()};
}

Result<Digest> Digest::Parse(std::string_view text) {
  size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    return Status(Code::kInvalidArgument, "digest must be ALGO:HEX, got '" + std::string(text) + "'");
  }
  HashAlgo algo = HashAlgoFromName(text.substr(0, colon));
  if (algo == HashAlgo::kUnknown) {
    return Status(Code::kInvalidArgument,
                  "unknown hash algorithm '" + std::string(text.substr(0, colon)) + "'");
  }
  return FromHex(algo, text.substr(colon + 1));
}

}  // namespace dfs
