// fuzz/manifest_fuzz.cc: signed manifests as `digestctl import manifest` reads them (the signature
// split off the body, then the body parsed). The signature itself is checked by OpenSSL's CMS code
// before any of the body is trusted; here the body parser sees hostile text directly.
// Checks beyond "no crash": a body that parses is written back byte for byte (one spelling per
// manifest: docs/formats.md), so what was signed is exactly what is recorded.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "packaging/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto parts = dfs::SplitManifest(in);
  if (parts.ok()) (void)dfs::ParseManifestBody(parts->body);
  auto m = dfs::ParseManifestBody(in);
  if (!m.ok()) return 0;
  std::string body = dfs::ManifestBody(*m);
  if (body != in) std::abort();
  return 0;
}
