// The enforcer's own cost per open, without FUSE: Gate::CheckOpen on a warm (cached) file, and
// Policy::Decide over the default policy, with an in-memory store (tests/unit/enforcer_fakes.h).
#include <benchmark/benchmark.h>

#include "policy/pipeline.h"
#include "tests/unit/enforcer_fakes.h"

namespace dfs {
namespace {

void BM_CheckOpenWarm(benchmark::State& state) {
  testing::TempTree tree;
  tree.Write("/usr/lib/x86_64-linux-gnu/libexample.so.1", std::string(4096, 'x'));
  auto store = std::make_shared<testing::FakeStore>();
  store->Add(SourceKind::kRpm, "example",
             {FileEntry{testing::Sha(std::string(4096, 'x')),
                        "/usr/lib/x86_64-linux-gnu/libexample.so.1", 0100755, 0}});
  Enforcer e(store, nullptr, Policy::Default(), EnforcerOptions{});
  testing::Open o(tree, "/usr/lib/x86_64-linux-gnu/libexample.so.1", AccessOp::kRead);
  OpenTicket t;
  if (!e.CheckOpen(o.req, &t).ok()) state.SkipWithError("refused");
  for (auto _ : state) {
    OpenTicket ticket;
    benchmark::DoNotOptimize(e.CheckOpen(o.req, &ticket));
  }
}
BENCHMARK(BM_CheckOpenWarm)->Threads(1)->Threads(2);

void BM_DecideDefaultPolicy(benchmark::State& state) {
  Policy p = Policy::Default();
  Subject s{"/usr/lib/x86_64-linux-gnu/libexample.so.1", AccessOp::kRead, 0, 0, S_IFREG};
  for (auto _ : state) benchmark::DoNotOptimize(p.Decide(s));
}
BENCHMARK(BM_DecideDefaultPolicy);

}  // namespace
}  // namespace dfs

BENCHMARK_MAIN();
