#include "cli/cli.h"

namespace dfs::cli {
void RegisterStatusCommands(CLI::App& app, Context& ctx) {
  (void)app;
  (void)ctx;
}
}  // namespace dfs::cli
