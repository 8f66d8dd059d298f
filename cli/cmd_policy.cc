#include "cli/cli.h"

namespace dfs::cli {
void RegisterPolicyCommands(CLI::App& app, Context& ctx) {
  (void)app;
  (void)ctx;
}
}  // namespace dfs::cli
