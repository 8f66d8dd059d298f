// tests/unit/store_test_util.h: helpers shared by the store_*_test.cc files.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "cache/records.h"
#include "cache/store.h"
#include "crypto/hash.h"

namespace dfs::testing {

// A fresh temporary directory, removed at destruction.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/dfs-store-test.XXXXXX";
    char* p = ::mkdtemp(tmpl);
    EXPECT_NE(p, nullptr);
    path_ = p ? p : "";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The SHA-256 of a text: a deterministic, realistic digest.
inline Digest Sha(const std::string& text) { return HashBytes(HashAlgo::kSha256, text).value(); }

inline FileEntry File(const std::string& path, const std::string& content, uint32_t flags = 0) {
  return FileEntry{Sha(content), path, 0100644, flags};
}

inline ImportItem Rpm(const std::string& package, const std::string& version,
                      std::vector<FileEntry> files, const std::string& arch = "x86_64") {
  ImportItem it;
  it.source.kind = SourceKind::kRpm;
  it.source.package = package;
  it.source.arch = arch;
  it.source.version = version;
  it.source.name = package + "-" + version + "." + arch;
  it.source.signer = "0123456789abcdef";
  it.source.blob_digest = Sha("header of " + it.source.name);
  it.source.origin = "/tmp/" + it.source.name + ".rpm";
  it.files = std::move(files);
  return it;
}

inline std::unique_ptr<Store> OpenOrDie(const std::string& dir, bool create = true,
                                        bool read_only = false) {
  StoreOptions o;
  o.create = create;
  o.read_only = read_only;
  auto s = Store::Open(dir, o);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(s).value() : nullptr;
}

}  // namespace dfs::testing
