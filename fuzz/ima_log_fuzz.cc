// fuzz/ima_log_fuzz.cc: IMA-format measurement logs, binary and ASCII, as `digestctl log` reads
// them back (a log file is writable by whoever owns the log directory, so it is untrusted input).
// Checks beyond "no crash": every entry of a parsed binary log re-encodes to the bytes it was read
// from (offsets and lengths agree).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "measurement/ima_log.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto log = dfs::ima::ParseBinary(data, size);
  if (log.ok()) {
    for (size_t i = 0; i < log->entries.size(); ++i) {
      const auto& e = log->entries[i];
      (void)dfs::ima::TemplateHashValid(e);
      (void)dfs::ima::EncodeAscii(e);
      auto bin = dfs::ima::EncodeBinary(e);
      uint64_t off = log->offsets[i];
      if (off + bin.size() > size || std::memcmp(data + off, bin.data(), bin.size()) != 0) {
        std::abort();
      }
    }
  }
  auto ascii = dfs::ima::ParseAscii(std::string_view(reinterpret_cast<const char*>(data), size));
  if (ascii.ok()) {
    for (const auto& e : *ascii) (void)dfs::ima::EncodeBinary(e);
  }
  return 0;
}
