// measurement/ima_log.h: the IMA measurement-log formats (template ima-ng), as values and bytes.
// Pure functions: no files, no TPM. docs/measurement.md describes the formats byte by byte.
//
// Binary record (binary_runtime_measurements), integers little-endian:
//   u32 pcr | 20-byte template hash (SHA-1 of the template data) | u32 name_len | name ("ima-ng")
//   | u32 data_len | template data
// ima-ng template data:
//   u32 len | "<algo>" ':' '\0' <digest bytes>  | u32 len | <path> '\0'
// ASCII line (ascii_runtime_measurements):
//   "<pcr> <sha1 template hash hex> ima-ng <algo>:<digest hex> <path>\n"
//
// Per-bank rule (what the kernel and evmctl do): the template hash for a PCR bank is the bank's
// hash over the template data; the PCR of that bank becomes H_bank(PCR_old || template hash). The
// 20-byte field in the record is always the SHA-1 one.
//
// Thread safety: plain functions over values.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/digest.h"
#include "common/status.h"

namespace dfs::ima {

inline constexpr std::string_view kTemplateImaNg = "ima-ng";
// The kernel's TCG_EVENT_NAME_LEN_MAX; longer template names are refused when parsing.
inline constexpr uint32_t kMaxTemplateNameLen = 255;
// Largest template data accepted when parsing (a path is at most PATH_MAX, a digest 64 bytes).
inline constexpr uint32_t kMaxTemplateDataLen = 64 * 1024;
// Longest path (without NUL) accepted in an entry.
inline constexpr size_t kMaxPathLen = 4095;

// What a path longer than kMaxPathLen is measured as: its first bytes followed by this marker,
// kMaxPathLen bytes in all (docs/measurement.md).
inline constexpr std::string_view kTruncatedMarker = "...[truncated]";
// `path` itself if it is at most kMaxPathLen bytes, else its first kMaxPathLen -
// kTruncatedMarker.size() bytes followed by kTruncatedMarker.
std::string MeasuredPath(std::string_view path);

// One log entry.
struct Entry {
  uint32_t pcr = 0;
  std::vector<uint8_t> template_hash;  // 20 bytes: SHA-1 of template_data (all zero = violation)
  std::string template_name;           // "ima-ng" for what digestfs writes
  std::vector<uint8_t> template_data;  // the raw template data
  // Decoded ima-ng fields (empty for other templates or undecodable data).
  Digest digest;
  std::string path;
};

// Builds ima-ng template data for (digest, path). Errors: kInvalidArgument for an unknown
// algorithm, a path with a NUL byte, or a path longer than kMaxPathLen.
Result<std::vector<uint8_t>> ImaNgTemplateData(const Digest& digest, std::string_view path);
// Builds a complete ima-ng entry (template hash included).
Result<Entry> MakeImaNgEntry(uint32_t pcr, const Digest& digest, std::string_view path);
// Decodes ima-ng template data into digest and path. kCorrupt names the defect.
Status DecodeImaNg(const std::vector<uint8_t>& data, Digest* digest, std::string* path);

// The record's bytes in the binary format.
std::vector<uint8_t> EncodeBinary(const Entry& e);
// The entry's line in the ASCII format, "\n" included. Bytes below 0x20, 0x7f and backslash in the
// path are written as \xNN so a hostile name cannot forge a line (the binary log is the reference).
std::string EncodeAscii(const Entry& e);

// Result of parsing a binary log.
struct ParsedLog {
  std::vector<Entry> entries;
  std::vector<uint64_t> offsets;  // byte offset of each entry in the input
  uint64_t complete_bytes = 0;    // bytes up to the end of the last complete record
  bool truncated_tail = false;    // the input ends inside a record (a torn append)
};
// Parses binary records. A torn final record sets truncated_tail (not an error); a record whose
// lengths are out of range, or an ima-ng record whose data does not decode, is kCorrupt naming the
// entry index and byte offset.
Result<ParsedLog> ParseBinary(const uint8_t* data, size_t len);
// Parses ASCII lines (ima-ng only; the template data is rebuilt from the digest and path).
// kCorrupt names the line number.
Result<std::vector<Entry>> ParseAscii(std::string_view text);

// The template hash of `e` for a bank. For SHA-1 this is recomputed (not copied from the record).
// A violation entry (all-zero SHA-1 field) gives all 0xff, as the kernel extends it.
Result<Digest> BankTemplateHash(const Entry& e, HashAlgo bank);
// True if the record's SHA-1 field matches SHA-1(template data) (violations count as matching).
bool TemplateHashValid(const Entry& e);

// Per-bank PCR values of one PCR, replayed from the initial all-zero value.
class PcrReplay {
 public:
  explicit PcrReplay(std::vector<HashAlgo> banks);
  // Extends every bank with the entry's template hash of that bank.
  Status Extend(const Entry& e);
  // Extends every bank with the given per-bank template hashes (same order as banks()).
  Status ExtendWith(const std::vector<Digest>& hashes);
  const std::vector<HashAlgo>& banks() const { return banks_; }
  const std::vector<Digest>& values() const { return values_; }

 private:
  std::vector<HashAlgo> banks_;
  std::vector<Digest> values_;
};

// Replays entries per PCR index: result[pcr] = values per bank (order of `banks`).
Result<std::map<uint32_t, std::vector<Digest>>> ReplayAll(const std::vector<Entry>& entries,
                                                          const std::vector<HashAlgo>& banks);

}  // namespace dfs::ima
