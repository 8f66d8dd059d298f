#include "cli/cli.h"

namespace dfs::cli {
void RegisterImportCommands(CLI::App& app, Context& ctx) {
  (void)app;
  (void)ctx;
}
}  // namespace dfs::cli
