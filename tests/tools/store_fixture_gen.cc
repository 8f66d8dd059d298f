// store_fixture_gen DIR: writes the golden store of tests/golden/store/fixture_v1.h into DIR
// (which must not hold a store yet), in this build's schema (kStoreSchemaVersion). Used once per
// schema version to make the committed fixture (tests/golden/store/README.md).
#include <cstdio>

#include "cache/store.h"
#include "tests/golden/store/fixture_v1.h"

int main(int argc, char** argv) {
  using namespace dfs;
  if (argc != 2) {
    std::fprintf(stderr, "usage: store_fixture_gen DIR\n");
    return 2;
  }
  StoreOptions o;
  o.create = true;
  o.initial_map_size = 1 << 20;
  auto st = Store::Open(argv[1], o);
  if (!st.ok()) {
    std::fprintf(stderr, "%s\n", st.status().ToString().c_str());
    return 3;
  }
  for (const auto& it : golden_v1::Items()) {
    auto r = (*st)->Import(it, {});
    if (!r.ok()) {
      std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
      return 1;
    }
  }
  Status s = (*st)->RemoveSource(golden_v1::kRemovedId);
  if (s.ok()) s = (*st)->TrustLocal(golden_v1::kLocalPath, golden_v1::S("motd"), 0100644);
  if (s.ok()) s = (*st)->DenyAdd(golden_v1::S("evil"), golden_v1::kDenyReason);
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
