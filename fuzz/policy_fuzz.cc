// fuzz/policy_fuzz.cc: policy files (docs/policy.md), which a mount reads at start and at reload.
// A policy that parses is asked one decision, so the matcher runs on the parsed rules too.
#include <cstdint>
#include <string_view>

#include "policy/policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto p = dfs::Policy::Parse(in, "fuzz");
  (void)p;
  return 0;
}
