// Fakes for the enforcer's seams (cache/store.h, measurement/measurer.h), used by
// tests/unit/enforcer_*_test.cc. In memory, thread-safe, with fault injection.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cache/store.h"
#include "crypto/hash.h"
#include "measurement/measurer.h"
#include "policy/gate.h"

namespace dfs::testing {

class FakeStore : public Store {
 public:
  // Adds a source with files; returns its id. Bumps the generation.
  uint64_t Add(SourceKind kind, const std::string& name, std::vector<FileEntry> files) {
    std::lock_guard l(mu_);
    SourceInfo s;
    s.id = next_id_++;
    s.kind = kind;
    s.name = name;
    s.blob_digest = *HashBytes(HashAlgo::kSha256, name);
    sources_[s.id] = s;
    for (auto& f : files) {
      files_.emplace_back(s.id, f);
      handles_.push_back(next_handle_++);
    }
    ++gen_;
    return s.id;
  }
  void Remove(uint64_t id) {
    std::lock_guard l(mu_);
    sources_[id].state = SourceState::kRemoved;
    ++gen_;
  }
  void Deny(const Digest& d) {
    std::lock_guard l(mu_);
    deny_[d] = "test";
    ++gen_;
  }

  std::atomic<bool> fail_lookup{false};
  std::atomic<int> lookup_delay_ms{0};
  mutable std::atomic<int> lookups{0};
  std::atomic<int> trust_calls{0};

  uint64_t Generation() const override { return gen_.load(); }
  using Store::Lookup;
  // Like the real store, leaves paths unloaded when asked to (FilePath gives them).
  Result<LookupResult> Lookup(const Digest& d, const LookupOptions& opts) const override {
    lookups++;
    if (lookup_delay_ms) std::this_thread::sleep_for(std::chrono::milliseconds(lookup_delay_ms));
    if (fail_lookup) return Status(Code::kCorrupt, "fake store: injected read error");
    std::lock_guard l(mu_);
    LookupResult r;
    r.denied = deny_.count(d) > 0;
    for (size_t i = 0; i < files_.size(); ++i) {
      const auto& [id, f] = files_[i];
      if (f.digest == d && sources_.at(id).state == SourceState::kActive) {
        Provenance p{id, opts.paths ? f.path : "", f.mode, f.flags, handles_[i], opts.paths};
        r.provenance.push_back(std::move(p));
      }
    }
    return r;
  }
  mutable std::atomic<int> path_calls{0};
  Result<std::string> FilePath(uint64_t source_id, uint32_t file_index) const override {
    path_calls++;
    std::lock_guard l(mu_);
    for (size_t i = 0; i < files_.size(); ++i) {
      if (files_[i].first == source_id && handles_[i] == file_index) return files_[i].second.path;
    }
    return Status(Code::kNotFound, "fake store: no such file");
  }
  Result<ImportSummary> Import(const ImportItem&, const ImportOptions&) override {
    return Status(Code::kUnsupported, "fake");
  }
  Result<std::vector<ImportSummary>> ImportAll(const std::vector<ImportItem>&, const ImportOptions&,
                                               bool, SourceKind) override {
    return Status(Code::kUnsupported, "fake");
  }
  Status RemoveSource(uint64_t id) override {
    Remove(id);
    return Status::Ok();
  }
  Result<SourceInfo> FindSource(const std::string&) const override {
    return Status(Code::kUnsupported, "fake");
  }
  Result<SourceInfo> GetSource(uint64_t id) const override {
    std::lock_guard l(mu_);
    auto it = sources_.find(id);
    if (it == sources_.end()) return Status(Code::kNotFound, "no source");
    return it->second;
  }
  Result<std::vector<SourceInfo>> ListSources() const override {
    std::lock_guard l(mu_);
    std::vector<SourceInfo> v;
    for (auto& [id, s] : sources_) v.push_back(s);
    return v;
  }
  Result<std::vector<FileEntry>> SourceFiles(uint64_t) const override {
    return Status(Code::kUnsupported, "fake");
  }
  Status TrustLocal(const std::string& path, const Digest& d, uint32_t mode) override {
    trust_calls++;
    std::lock_guard l(mu_);
    if (local_id_ == 0) {
      SourceInfo s;
      s.id = local_id_ = next_id_++;
      s.kind = SourceKind::kLocal;
      s.name = "local";
      sources_[s.id] = s;
    }
    for (size_t i = files_.size(); i-- > 0;) {
      if (files_[i].first == local_id_ && files_[i].second.path == path) {
        files_.erase(files_.begin() + static_cast<std::ptrdiff_t>(i));
        handles_.erase(handles_.begin() + static_cast<std::ptrdiff_t>(i));
      }
    }
    files_.emplace_back(local_id_, FileEntry{d, path, mode, 0});
    handles_.push_back(next_handle_++);
    ++gen_;
    return Status::Ok();
  }
  Status DenyAdd(const Digest& d, const std::string&) override {
    Deny(d);
    return Status::Ok();
  }
  Status DenyRemove(const Digest& d) override {
    std::lock_guard l(mu_);
    deny_.erase(d);
    ++gen_;
    return Status::Ok();
  }
  Result<std::vector<std::pair<Digest, std::string>>> DenyList() const override {
    return Status(Code::kUnsupported, "fake");
  }
  Result<StoreStats> Stats() const override {
    StoreStats s;
    s.generation = gen_;
    s.digests_per_algo = {{"sha256", files_.size()}};
    return s;
  }

 private:
  mutable std::mutex mu_;
  std::atomic<uint64_t> gen_{1};
  uint64_t next_id_ = 1;
  uint64_t local_id_ = 0;
  std::map<uint64_t, SourceInfo> sources_;
  std::vector<std::pair<uint64_t, FileEntry>> files_;
  std::vector<uint32_t> handles_;  // files_[i]'s file_index (stable across erasures)
  uint32_t next_handle_ = 0;
  std::map<Digest, std::string> deny_;
};

class FakeMeasurer : public Measurer {
 public:
  std::atomic<bool> fail{false};
  std::mutex mu;
  std::vector<std::string> sources, files;  // guarded by mu
  Status MeasureSource(const SourceInfo& s) override {
    if (fail) return Status(Code::kUnavailable, "fake TPM: unreachable");
    std::lock_guard l(mu);
    sources.push_back(s.name);
    return Status::Ok();
  }
  Status MeasureFile(const Digest& d, const std::string& path) override {
    if (fail) return Status(Code::kUnavailable, "fake TPM: unreachable");
    std::lock_guard l(mu);
    files.push_back(d.ToString() + " " + path);
    return Status::Ok();
  }
};

// A scratch directory standing in for the lower tree.
class TempTree {
 public:
  TempTree() {
    char tmpl[] = "/tmp/enforcer_test.XXXXXX";
    root_ = mkdtemp(tmpl);
  }
  ~TempTree() { std::system(("rm -rf '" + root_ + "'").c_str()); }
  const std::string& root() const { return root_; }
  std::string Real(const std::string& path) const { return root_ + path; }
  void Write(const std::string& path, const std::string& content) {
    std::string real = Real(path);
    for (size_t i = root_.size() + 1; i < real.size(); ++i) {
      if (real[i] == '/') ::mkdir(real.substr(0, i).c_str(), 0755);
    }
    int fd = ::open(real.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0755);
    if (fd >= 0) {
      if (::write(fd, content.data(), content.size()) < 0) {
      }
      ::close(fd);
    }
  }

 private:
  std::string root_;
};

inline Digest Sha(const std::string& content) { return *HashBytes(HashAlgo::kSha256, content); }

// An open of `path` in `tree` as fs/ would describe it. Owns the fd.
struct Open {
  Fd fd;
  OpenRequest req;
  Open(const TempTree& tree, const std::string& path, AccessOp op, int flags = O_RDONLY,
       uint32_t uid = 0) {
    std::string real = tree.Real(path);
    fd = Fd(::open(real.c_str(), flags | O_CLOEXEC));
    req.fd = fd.get();
    if (fd) ::fstat(fd.get(), &req.st);
    req.path = path;
    req.op = op;
    req.flags = flags;
    req.uid = uid;
    req.reopen_readonly = [real]() -> Result<Fd> {
      int f = ::open(real.c_str(), O_RDONLY | O_CLOEXEC);
      if (f < 0) return Status::FromErrno(errno, "reopen " + real);
      return Fd(f);
    };
  }
};

}  // namespace dfs::testing
