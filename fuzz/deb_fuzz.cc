// fuzz/deb_fuzz.cc: .deb archives (ar, then control.tar and data.tar, each possibly compressed), as
// `digestctl import apt/deb` reads them with libarchive while hashing. The archive's bytes are only
// trusted once their SHA-256 matches the signed index, but the reader runs before that verdict is
// reported, so it must survive any input. Each member name is also normalised as the importer does.
#include <cstdint>
#include <span>
#include <string_view>

#include "apt/deb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto deb = dfs::apt::ParseDeb(std::span<const uint8_t>(data, size));
  (void)deb;
  (void)dfs::apt::NormalizeMemberName(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
