// fuzz/rpm_header_fuzz.cc: RPM headers as the importer hands them to librpm -- an installed
// header blob as an rpmdb stores it (`digestctl import rpmdb` reads these from a container's
// database, which the container's root controls). Unsigned headers are allowed here so that the
// fuzzer reaches the tag reading and the signed-region checks behind the signature gate; with an
// empty keyring no header can verify, so every input takes the refusal paths too.
#include <cstdint>
#include <memory>
#include <vector>

#include "packaging/rpm.h"

// librpm 4.18's rpmfilesNew leaks a few bytes of a tag it read when it gives up on a malformed
// header (it returns NULL; nothing of ours holds the memory). Reported by LeakSanitizer on
// fuzz/regressions/rpm_header_fuzz/rpmfilesNew-leak; suppressed here, for that function only.
// librpm is built without frame pointers: the slow unwinder is needed to see rpmfilesNew.
extern "C" const char* __lsan_default_suppressions() { return "leak:rpmfilesNew\n"; }
extern "C" const char* __asan_default_options() { return "fast_unwind_on_malloc=0"; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::unique_ptr<dfs::RpmImporter> importer = [] {
    auto r = dfs::RpmImporter::Create({});
    return r.ok() ? std::move(*r) : nullptr;
  }();
  if (!importer) return 0;
  dfs::RpmImportOptions strict;
  (void)importer->ReadInstalledHeader(data, size, "fuzz", strict);
  dfs::RpmImportOptions lax;
  lax.allow_unsigned = true;
  lax.allow_weak = true;
  (void)importer->ReadInstalledHeader(data, size, "fuzz", lax);
  return 0;
}
