#include "fs/op_counters.h"

namespace dfs::fs {

namespace {

OpCounters* (*g_counters)(fuse_req_t) = nullptr;  // set once by WrapCounted, before any request

// One trampoline per (opcode, signature): counts, then calls the callback it replaced.
template <FuseOp Op, typename Fn>
struct Counted;
template <FuseOp Op, typename... A>
struct Counted<Op, void (*)(fuse_req_t, A...)> {
  static inline void (*real)(fuse_req_t, A...) = nullptr;
  static void Call(fuse_req_t req, A... a) {
    if (OpCounters* c = g_counters(req)) c->Add(Op);
    real(req, a...);
  }
};

const char* const kNames[] = {
#define DFS_X(name) #name,
    DFS_FUSE_COUNTED_OPS(DFS_X)
#undef DFS_X
};

}  // namespace

std::vector<std::pair<std::string, uint64_t>> OpCounters::Snapshot() const {
  std::vector<std::pair<std::string, uint64_t>> out;
  for (size_t i = 0; i < n_.size(); ++i) {
    uint64_t v = n_[i].load(std::memory_order_relaxed);
    if (v != 0) out.emplace_back(kNames[i], v);
  }
  return out;
}

void WrapCounted(fuse_lowlevel_ops* ops, OpCounters* (*counters)(fuse_req_t)) {
  g_counters = counters;
#define DFS_X(name)                                           \
  if (ops->name != nullptr) {                                 \
    using C = Counted<FuseOp::k_##name, decltype(ops->name)>; \
    C::real = ops->name;                                      \
    ops->name = &C::Call;                                     \
  }
  DFS_FUSE_COUNTED_OPS(DFS_X)
#undef DFS_X
}

}  // namespace dfs::fs
