#include "cli/cli.h"

namespace dfs::cli {
void RegisterLogCommands(CLI::App& app, Context& ctx) {
  (void)app;
  (void)ctx;
}
}  // namespace dfs::cli
