// tests/golden/store/fixture_v1.h: the content of the golden stores (tests/golden/store/v1/ and
// v2/data.mdb: the same content in each schema; the name says which version introduced it). tests/tools/store_fixture_gen.cc wrote that file from this
// content; tests/unit/store_golden_test.cc checks a copy of it against the same content, so a
// change to the on-disk format that breaks old stores fails the test.
#pragma once

#include <string>
#include <vector>

#include "cache/records.h"
#include "crypto/hash.h"

namespace dfs::golden_v1 {

inline Digest D(HashAlgo a, const std::string& text) { return HashBytes(a, text).value(); }
inline Digest S(const std::string& text) { return D(HashAlgo::kSha256, text); }

inline ImportItem Rpm(const std::string& pkg, const std::string& ver, int64_t t, std::vector<FileEntry> files) {
  ImportItem it;
  it.source.kind = SourceKind::kRpm;
  it.source.package = pkg;
  it.source.arch = "x86_64";
  it.source.version = ver;
  it.source.name = pkg + "-" + ver + ".x86_64";
  it.source.signer = "3f1e2d4c5b6a7988";
  it.source.blob_digest = S("header " + it.source.name);
  it.source.import_time = t;
  it.source.origin = "/srv/rpms/" + it.source.name + ".rpm";
  it.files = std::move(files);
  return it;
}

// Imported in this order, each with default options. Ids are 1, 2, 3, ... in this order.
inline std::vector<ImportItem> Items() {
  std::vector<ImportItem> v;
  v.push_back(Rpm("hello", "1.0-1", 1700000000,
                  {{S("hello 1.0"), "/usr/bin/hello", 0100755, 0},
                   {S("GPL text"), "/usr/share/licenses/hello/COPYING", 0100644, kFileDoc}}));
  v.push_back(Rpm("hello", "2.0-1", 1700000100,
                  {{S("hello 2.0"), "/usr/bin/hello", 0100755, 0},
                   {S("hello.conf"), "/etc/hello.conf", 0100640, kFileConfig | kFileMutable},
                   {S("GPL text"), "/usr/share/licenses/hello/COPYING", 0100644, kFileDoc}}));
  v.push_back(Rpm("libfoo", "3.1-2", 1700000200,
                  {{S("libfoo.so.3"), "/usr/lib64/libfoo.so.3.1", 0100755, 0},
                   {S("GPL text"), "/usr/share/licenses/libfoo/COPYING", 0100644, kFileDoc}}));
  ImportItem tlv;
  tlv.source.kind = SourceKind::kTlv;
  tlv.source.name = "tlv-kernel-modules";
  tlv.source.signer = "aabbccdd";
  tlv.source.blob_digest = S("tlv blob");
  tlv.source.import_time = 1700000300;
  tlv.source.origin = "/etc/digest_lists/tlv-kernel-modules";
  tlv.files = {{D(HashAlgo::kSha384, "ext4.ko"), "/usr/lib/modules/6.5.6/kernel/fs/ext4/ext4.ko", 0100644, 0}};
  v.push_back(tlv);
  ImportItem man;
  man.source.kind = SourceKind::kManifest;
  man.source.name = "image-manifest";
  man.source.blob_digest = S("manifest blob");
  man.source.import_time = 1700000400;
  man.source.flags = kSourceUnsigned;
  man.source.origin = "/srv/manifest.json";
  man.files = {{S("app binary"), "/opt/app/bin/app", 0100755, 0}};
  v.push_back(man);
  return v;
}

// After the imports: RemoveSource(5) (the manifest), TrustLocal("/etc/motd", S("motd"), 0100644),
// DenyAdd(S("evil"), "CVE-2024-0001").
inline constexpr uint64_t kRemovedId = 5;
inline const char* kLocalPath = "/etc/motd";
inline const char* kDenyReason = "CVE-2024-0001";

}  // namespace dfs::golden_v1
