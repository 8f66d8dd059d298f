// store_bench: the digest store at scale (default 1M sha256 digests in 1000 rpm-like sources with
// realistic paths). Reports bulk insert throughput, bytes on disk per digest, and the per-lookup
// latency distribution (p50/p99, measured one call at a time with clock_gettime) for hits and
// misses as the daemon looks up (without paths), and for hits with paths (digestctl lookup).
// Environment: DFS_BENCH_DIGESTS (default 1000000), DFS_BENCH_DIR (default a temp dir, removed at
// exit), DFS_BENCH_REUSE=1 (reuse the store in DFS_BENCH_DIR: lookups only).
#include <benchmark/benchmark.h>
#include <stdlib.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "cache/store.h"
#include "crypto/hash.h"

namespace {

using namespace dfs;

uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + ts.tv_nsec;
}

Digest DigestOf(uint64_t i) {
  std::string s = "file content " + std::to_string(i);
  return HashBytes(HashAlgo::kSha256, s).value();
}

// A path like the ones a distribution ships: a few hundred directories, long shared prefixes.
std::string PathFor(uint64_t pkg, uint64_t i) {
  static const char* kDirs[] = {"/usr/lib64/python3.11/site-packages/", "/usr/share/doc/", "/usr/share/locale/",
                                "/usr/lib/modules/6.5.6-300.fc39.x86_64/kernel/drivers/", "/usr/bin/",
                                "/usr/share/man/man1/", "/usr/include/", "/usr/lib64/"};
  std::string p = kDirs[(pkg + i / 37) % 8];
  p += "pkg" + std::to_string(pkg) + "/sub" + std::to_string(i / 50) + "/file_" + std::to_string(i) + ".dat";
  return p;
}

std::vector<ImportItem> MakeItems(uint64_t n);

struct Fixture {
  std::string dir;
  std::unique_ptr<Store> store;
  uint64_t n = 0;
  double insert_seconds = 0;
  bool own_dir = false;
  ~Fixture() {
    store.reset();
    if (own_dir) std::filesystem::remove_all(dir);
  }
};

Fixture* Get() {
  static Fixture* f = [] {
    auto* f = new Fixture;
    const char* n = getenv("DFS_BENCH_DIGESTS");
    f->n = n ? strtoull(n, nullptr, 10) : 1000000;
    const char* d = getenv("DFS_BENCH_DIR");
    if (d) {
      f->dir = d;
    } else {
      char tmpl[] = "/var/tmp/dfs-store-bench.XXXXXX";
      f->dir = mkdtemp(tmpl);
      f->own_dir = true;
    }
    StoreOptions o;
    o.create = true;
    if (getenv("DFS_BENCH_REUSE") && std::filesystem::exists(f->dir + "/store/data.mdb")) {
      // Reuse the store a previous run built (lookups only; insert numbers are not re-measured).
      f->store = std::move(Store::Open(f->dir + "/store", o)).value();
      return f;
    }
    std::filesystem::remove_all(f->dir + "/store");
    f->store = std::move(Store::Open(f->dir + "/store", o)).value();
    std::vector<ImportItem> items = MakeItems(f->n);
    uint64_t t0 = NowNs();
    for (const auto& it : items) {
      auto r = f->store->Import(it, {});
      if (!r.ok()) {
        fprintf(stderr, "import failed: %s\n", r.status().ToString().c_str());
        abort();
      }
    }
    f->insert_seconds = (NowNs() - t0) / 1e9;
    return f;
  }();
  return f;
}

std::vector<ImportItem> MakeItems(uint64_t n) {
    const uint64_t per_source = 1000;
    std::vector<ImportItem> items;
    for (uint64_t first = 0, pkg = 0; first < n; first += per_source, ++pkg) {
      ImportItem it;
      it.source.kind = SourceKind::kRpm;
      it.source.package = "pkg" + std::to_string(pkg);
      it.source.arch = "x86_64";
      it.source.version = "1.0-1";
      it.source.name = it.source.package + "-1.0-1.x86_64";
      it.source.signer = "0123456789abcdef";
      it.source.blob_digest = DigestOf(~pkg);
      for (uint64_t i = first; i < std::min(n, first + per_source); ++i) {
        it.files.push_back(FileEntry{DigestOf(i), PathFor(pkg, i - first), 0100644, 0});
      }
      items.push_back(std::move(it));
    }
    return items;
}

void BM_BulkInsert(benchmark::State& state) {
  Fixture* f = Get();
  for (auto _ : state) benchmark::DoNotOptimize(f);
  state.counters["digests"] = f->n;
  state.counters["insert_seconds"] = f->insert_seconds;
  state.counters["digests_per_s"] = f->n / f->insert_seconds;
  auto st = f->store->Stats();
  state.counters["bytes_on_disk"] = st->bytes_on_disk;
  state.counters["bytes_per_digest"] = static_cast<double>(st->bytes_on_disk) / st->digests;
}
BENCHMARK(BM_BulkInsert)->Iterations(1);

// The same digests imported by one ImportAll: one write transaction (as `import rpmdb` does).
void BM_BulkInsertOneTxn(benchmark::State& state) {
  Fixture* f = Get();
  std::vector<ImportItem> items = MakeItems(f->n);
  std::string dir = f->dir + "/store-onetxn";
  std::filesystem::remove_all(dir);
  double secs = 0;
  uint64_t bytes = 0, digests = 0;
  for (auto _ : state) {
    StoreOptions o;
    o.create = true;
    auto st = std::move(Store::Open(dir, o)).value();
    uint64_t t0 = NowNs();
    auto r = st->ImportAll(items, {}, false, SourceKind::kRpm);
    secs = (NowNs() - t0) / 1e9;
    if (!r.ok()) state.SkipWithError(r.status().ToString().c_str());
    auto stats = st->Stats();
    bytes = stats->bytes_on_disk;
    digests = stats->digests;
  }
  std::filesystem::remove_all(dir);
  state.counters["digests"] = digests;
  state.counters["insert_seconds"] = secs;
  state.counters["digests_per_s"] = digests / secs;
  state.counters["bytes_per_digest"] = static_cast<double>(bytes) / digests;
}
BENCHMARK(BM_BulkInsertOneTxn)->Iterations(1)->Unit(benchmark::kMillisecond);

// paths=false is how the daemon looks up on open (policy/pipeline.cc: a path is loaded only for a
// record bound to its path); paths=true is `digestctl lookup`.
void Latency(benchmark::State& state, bool hits, bool paths) {
  const LookupOptions opts{.paths = paths};
  Fixture* f = Get();
  std::mt19937_64 rng(42);
  const size_t kOps = 200000;
  std::vector<Digest> keys;
  keys.reserve(kOps);
  for (size_t i = 0; i < kOps; ++i) keys.push_back(hits ? DigestOf(rng() % f->n) : DigestOf(f->n + 1 + rng() % f->n));
  std::vector<uint32_t> ns(kOps);
  // Warm-up with other keys (page cache and page tables, as in a running daemon); the timed keys
  // are fresh.
  for (size_t i = 0; i < kOps; ++i) {
    benchmark::DoNotOptimize(f->store->Lookup(DigestOf(rng() % (2 * f->n)), opts));
  }
  for (auto _ : state) {
    for (size_t i = 0; i < kOps; ++i) {
      uint64_t t0 = NowNs();
      auto r = f->store->Lookup(keys[i], opts);
      uint64_t t1 = NowNs();
      if (!r.ok() || r->known() != hits) state.SkipWithError("wrong lookup result");
      ns[i] = static_cast<uint32_t>(t1 - t0);
    }
  }
  std::sort(ns.begin(), ns.end());
  state.counters["p50_ns"] = ns[kOps / 2];
  state.counters["p90_ns"] = ns[kOps * 9 / 10];
  state.counters["p99_ns"] = ns[kOps * 99 / 100];
  state.counters["max_ns"] = ns.back();
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kOps));
}
void BM_LookupHit(benchmark::State& s) { Latency(s, true, false); }
void BM_LookupMiss(benchmark::State& s) { Latency(s, false, false); }
void BM_LookupHitWithPaths(benchmark::State& s) { Latency(s, true, true); }
BENCHMARK(BM_LookupHit)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LookupMiss)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LookupHitWithPaths)->Iterations(1)->Unit(benchmark::kMillisecond);

void BM_Generation(benchmark::State& state) {
  Fixture* f = Get();
  for (auto _ : state) benchmark::DoNotOptimize(f->store->Generation());
}
BENCHMARK(BM_Generation);

}  // namespace

BENCHMARK_MAIN();
