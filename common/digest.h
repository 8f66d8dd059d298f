// common/digest.h: hash algorithms and digests as values, with the numeric ids that the formats
// digestfs speaks use for them. No hashing happens here (see crypto/hash.h).
//
// Thread safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace dfs {

enum class HashAlgo : uint8_t {
  kUnknown = 0,
  kMd5,
  kSha1,
  kSha224,
  kSha256,
  kSha384,
  kSha512,
  kSm3,
};

// "sha256", "sha1", ... (the names IMA and OpenSSL use).
std::string_view HashAlgoName(HashAlgo a);
// Parses a name as above; kUnknown if it is not one.
HashAlgo HashAlgoFromName(std::string_view name);
// Digest length in bytes, 0 for kUnknown.
size_t HashAlgoSize(HashAlgo a);
// True for algorithms too weak to trust by default (MD5, SHA-1).
bool HashAlgoIsWeak(HashAlgo a);

// The kernel's enum hash_algo (include/uapi/linux/hash_info.h): md5=1 sha1=2 sha256=4 sha384=5
// sha512=6 sha224=7 sm3=17. Returns kUnknown / 0 for ids or algorithms outside that set.
HashAlgo HashAlgoFromKernelId(uint16_t id);
uint16_t HashAlgoToKernelId(HashAlgo a);
// OpenPGP hash algorithm ids as RPMTAG_FILEDIGESTALGO uses them: 1=MD5 2=SHA1 8=SHA256 9=SHA384
// 10=SHA512 11=SHA224.
HashAlgo HashAlgoFromPgpId(uint32_t id);
uint32_t HashAlgoToPgpId(HashAlgo a);

// A digest: algorithm plus raw bytes. Comparable and hashable so it can key maps.
struct Digest {
  HashAlgo algo = HashAlgo::kUnknown;
  std::vector<uint8_t> bytes;

  bool empty() const { return bytes.empty(); }
  std::string Hex() const;
  // "sha256:abcd..." (the form IMA logs and the CLI use).
  std::string ToString() const;
  // Parses "ALGO:HEX"; checks the length matches the algorithm.
  static Result<Digest> Parse(std::string_view text);
  // Builds from an algorithm and hex text; checks the length.
  static Result<Digest> FromHex(HashAlgo algo, std::string_view hex);

  friend bool operator==(const Digest&, const Digest&) = default;
  friend auto operator<=>(const Digest&, const Digest&) = default;
};

std::string ToHex(const uint8_t* data, size_t len);
inline std::string ToHex(const std::vector<uint8_t>& v) { return ToHex(v.data(), v.size()); }
// Decodes hex (either case); fails on odd length or a non-hex character.
Result<std::vector<uint8_t>> FromHex(std::string_view hex);

}  // namespace dfs
