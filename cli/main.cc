// digestctl: builds and inspects the digest store, checks policies and logs. See docs/cli.md.
#include <cstdio>
#include <cstdlib>

#include "build_info.h"  // generated: DIGESTFS_COMMIT
#include "cli/cli.h"
#include "common/log.h"

namespace dfs::cli {
int Fail(const Status& s) {
  std::fprintf(stderr, "digestctl: %s\n", s.ToString().c_str());
  return ExitCodeFor(s);
}
}  // namespace dfs::cli

int main(int argc, char** argv) {
  dfs::cli::Context ctx;
  // Component logs go to stderr (stdout is for command output, often JSON); warnings and up
  // unless DIGESTCTL_LOGLEVEL says otherwise.
  const char* level = std::getenv("DIGESTCTL_LOGLEVEL");
  (void)dfs::InitLogging(dfs::LogSink::kStderr, level ? level : "warn", "digestctl");
  CLI::App app{"digestctl: manage a digestfs digest store, policies and measurement logs"};
  app.set_version_flag("--version", std::string("digestctl ") + DIGESTFS_VERSION + " (commit " + DIGESTFS_COMMIT + ")");
  app.require_subcommand(1);
  app.add_option("--store", ctx.store_dir, "store directory")->envname("DIGESTFS_STORE");
  app.add_flag("--json", ctx.json, "machine-readable output");
  dfs::cli::RegisterStoreCommands(app, ctx);
  dfs::cli::RegisterImportCommands(app, ctx);
  dfs::cli::RegisterPolicyCommands(app, ctx);
  dfs::cli::RegisterLogCommands(app, ctx);
  dfs::cli::RegisterStatusCommands(app, ctx);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : dfs::kExitUsage;
  }
  return ctx.exit_code;
}
