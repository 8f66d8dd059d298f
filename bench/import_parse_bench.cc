// Verification cost without the store: RPM package files (header signature + payload digest + file
// list) from the corpus, TLV list parsing, and manifest body parsing. Run from the build tree:
//   bench/import_parse_bench   (DFS_CORPUS overrides the corpus location)
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>

#include "crypto/hash.h"
#include "packaging/file_util.h"
#include "packaging/keys.h"
#include "packaging/manifest.h"
#include "packaging/rpm.h"
#include "packaging/tlv.h"

namespace {

std::string Corpus() {
  const char* e = getenv("DFS_CORPUS");
  if (e) return e;
  std::string src = __FILE__;  // <source>/bench/import_parse_bench.cc (CMake passes full paths)
  src = src.substr(0, src.rfind('/'));
  src = src.substr(0, src.rfind('/'));
  return src + "/../shared/corpus/rpm-upstream";
}

void BM_RpmPackageFile(benchmark::State& state) {
  auto key = dfs::ReadFileLimited(Corpus() + "/keys/rpm.org-rsa-2048-test.pub", 1 << 20);
  if (!key.ok()) {
    state.SkipWithError("corpus not found (set DFS_CORPUS)");
    return;
  }
  auto k = dfs::ParseKey(*key);
  auto imp = dfs::RpmImporter::Create({k->data});
  std::string pkg = Corpus() + "/RPMS/hello-2.0-1.x86_64-signed.rpm";
  size_t files = 0;
  for (auto _ : state) {
    auto item = (*imp)->ReadPackageFile(pkg, {});
    if (!item.ok()) {
      state.SkipWithError(item.status().ToString().c_str());
      return;
    }
    files += item->files.size();
  }
  state.counters["packages/s"] =
      benchmark::Counter(state.iterations(), benchmark::Counter::kIsRate);
  state.counters["digests/s"] = benchmark::Counter(files, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_RpmPackageFile)->Unit(benchmark::kMicrosecond);

void BM_TlvParse(benchmark::State& state) {
  dfs::TlvList l;
  l.algo = dfs::HashAlgo::kSha256;
  for (int64_t i = 0; i < state.range(0); ++i) {
    dfs::TlvEntry e;
    e.digest = *dfs::HashBytes(dfs::HashAlgo::kSha256, std::to_string(i));
    e.path = "/usr/lib/some/where/file" + std::to_string(i);
    l.entries.push_back(std::move(e));
  }
  auto bytes = *dfs::WriteTlv(l);
  for (auto _ : state) {
    auto r = dfs::ParseTlv(bytes);
    benchmark::DoNotOptimize(r);
  }
  state.counters["digests/s"] =
      benchmark::Counter(state.iterations() * state.range(0), benchmark::Counter::kIsRate);
  state.SetBytesProcessed(state.iterations() * bytes.size());
}
BENCHMARK(BM_TlvParse)->Arg(1000)->Arg(100000)->Unit(benchmark::kMicrosecond);

void BM_ManifestParse(benchmark::State& state) {
  dfs::Manifest m;
  m.name = "bench";
  for (int64_t i = 0; i < state.range(0); ++i) {
    char p[64];
    std::snprintf(p, sizeof p, "/usr/lib/f%08lld", static_cast<long long>(i));
    m.entries.push_back({*dfs::HashBytes(dfs::HashAlgo::kSha256, p), 0100644, p});
  }
  std::string body = dfs::ManifestBody(m);
  for (auto _ : state) {
    auto r = dfs::ParseManifestBody(body);
    benchmark::DoNotOptimize(r);
  }
  state.counters["digests/s"] =
      benchmark::Counter(state.iterations() * state.range(0), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ManifestParse)->Arg(100000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
