// fuzz/deb822_fuzz.cc: apt's index files and dpkg's status file as `digestctl import apt` reads
// them from a rootfs (var/lib/apt/lists, var/lib/dpkg/status): untrusted until the chain is
// checked, and the status file is never signed. One input goes through every deb822 reader: the
// clearsigned frame check, Release, Packages, dpkg status, and the date parser.
#include <cstdint>
#include <string_view>
#include <vector>

#include "apt/deb822.h"
#include "apt/import.h"
#include "apt/index.h"
#include "apt/openpgp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<dfs::apt::Stanza> stanzas;
  (void)dfs::apt::ParseDeb822(in, &stanzas);
  for (const auto& s : stanzas) {
    for (const auto& f : s.fields) (void)dfs::apt::FieldLines(f.value);
  }
  stanzas.clear();
  (void)dfs::apt::ParseDeb822(in, &stanzas, dfs::apt::Deb822Options{.comments = true});
  (void)dfs::apt::CheckClearsignedFrame(in);
  (void)dfs::apt::ParseRelease(in);
  (void)dfs::apt::ParseReleaseDate(in);
  std::vector<dfs::apt::IndexEntry> entries;
  size_t unusable = 0;
  (void)dfs::apt::ParsePackages(in, &entries, &unusable);
  std::vector<dfs::apt::InstalledPackage> installed;
  (void)dfs::apt::ParseDpkgStatus(in, &installed);
  return 0;
}
