#include "cli/cli.h"

namespace dfs::cli {
void RegisterStoreCommands(CLI::App& app, Context& ctx) {
  (void)app;
  (void)ctx;
}
}  // namespace dfs::cli
