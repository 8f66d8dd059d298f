// fuzz/tlv_fuzz.cc: kernel-format (digest_cache TLV) digest lists with an appended module-style
// signature, as `digestctl import tlv` reads them from an untrusted file.
// Checks beyond "no crash": a list that parses is written back, and the written list parses to
// the same entries (the writer and the parser agree on the format).
#include <cstdint>
#include <cstdlib>
#include <span>

#include "packaging/tlv.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  auto split = dfs::SplitModuleSignature(in);
  if (split.ok()) {
    (void)dfs::ParseTlv(split->content);
  }
  auto list = dfs::ParseTlv(in);
  if (!list.ok()) return 0;
  auto bytes = dfs::WriteTlv(*list);
  if (!bytes.ok()) return 0;  // e.g. a list the writer refuses to produce
  auto again = dfs::ParseTlv(*bytes);
  if (!again.ok() || again->algo != list->algo || again->entries.size() != list->entries.size()) {
    std::abort();
  }
  for (size_t i = 0; i < list->entries.size(); ++i) {
    if (!(again->entries[i].digest == list->entries[i].digest) ||
        again->entries[i].path != list->entries[i].path) {
      std::abort();
    }
  }
  return 0;
}
