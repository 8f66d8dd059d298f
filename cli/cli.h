// cli/cli.h: what digestctl's command files share. Each cmd_*.cc registers one family of
// subcommands on the root CLI11 app; the callback sets ctx.exit_code (common/exit_codes.h).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "common/exit_codes.h"
#include "common/status.h"

namespace dfs::cli {

struct Context {
  std::string store_dir = "/var/lib/digestfs";
  bool json = false;
  int exit_code = kExitOk;
};

// Prints "digestctl: <status>" to stderr and returns the exit code for it.
int Fail(const Status& s);

void RegisterStoreCommands(CLI::App& app, Context& ctx);    // init stats list dump lookup remove deny
void RegisterImportCommands(CLI::App& app, Context& ctx);   // keys import manifest export-tlv
void RegisterPolicyCommands(CLI::App& app, Context& ctx);   // policy check, verify-tree
void RegisterLogCommands(CLI::App& app, Context& ctx);      // log show|verify, export keylime-policy
void RegisterStatusCommands(CLI::App& app, Context& ctx);   // status MOUNTPOINT

}  // namespace dfs::cli
