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

namespace dfs::testing {

// Checks the store's invariants through the public interface:
// - every file of every active source is found by Lookup with that (source, path) - sampled
//   every `stride` files;
// - no Lookup returns a source that is not active (checked on the same sample);
// - Stats().provenance_records equals the number of files of active sources.
inline ::testing::AssertionResult StoreInvariantsHold(const Store& s, size_t stride = 1) {
  auto list = s.ListSources();
  if (!list.ok()) return ::testing::AssertionFailure() << list.status().ToString();
  uint64_t active_files = 0, prev_id = 0;
  for (const SourceInfo& src : *list) {
    if (src.id <= prev_id) return ::testing::AssertionFailure() << "source ids not ascending";
    prev_id = src.id;
    auto files = s.SourceFiles(src.id);
    if (!files.ok()) return ::testing::AssertionFailure() << files.status().ToString();
    bool active = src.state == SourceState::kActive;
    if (active) active_files += files->size();
    for (size_t i = 0; i < files->size(); i += stride) {
      const FileEntry& f = (*files)[i];
      auto r = s.Lookup(f.digest);
      if (!r.ok()) return ::testing::AssertionFailure() << r.status().ToString();
      bool found = false;
      for (const Provenance& p : r->provenance) {
        if (p.source_id == src.id && p.path == f.path) found = true;
        auto ps = s.GetSource(p.source_id);
        if (!ps.ok() || ps->state != SourceState::kActive) {
          return ::testing::AssertionFailure() << "lookup returned inactive source " << p.source_id;
        }
      }
      if (found != active) {
        return ::testing::AssertionFailure()
               << "source " << src.id << " (" << SourceStateName(src.state) << ") file " << f.path
               << (active ? " missing from" : " present in") << " lookups";
      }
    }
  }
  auto st = s.Stats();
  if (!st.ok()) return ::testing::AssertionFailure() << st.status().ToString();
  if (st->provenance_records != active_files) {
    return ::testing::AssertionFailure() << "provenance records " << st->provenance_records
                                         << " != files of active sources " << active_files;
  }
  return ::testing::AssertionSuccess();
}

}  // namespace dfs::testing
