// common/log.h: logging setup. Components log through spdlog's default logger with structured
// "key=value" fields (inode=, path=, digest=, verdict=, rule=). Never log file content.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace dfs {

enum class LogSink { kStderr, kSyslog };

// Installs the default logger. level: trace|debug|info|warn|error|critical|off.
Status InitLogging(LogSink sink, std::string_view level, std::string_view ident = "digestfs");

// Installs a default logger that appends to the file `path` (logfile= mount option), created
// 0600 if missing (O_NOFOLLOW: a symlink there is refused). kIo/kPermissionDenied naming the file.
Status InitFileLogging(const std::string& path, std::string_view level);

// Reopens the file of InitFileLogging at its path (after logrotate renamed it); on failure the old
// file stays in use and the failure is logged. No-op when not logging to a file. Thread-safe.
void ReopenLogFile();

// Quotes a path for a log line: printable ASCII as is, anything else (newline, non-UTF-8, quotes,
// backslash) as \xNN, so a hostile file name cannot forge log lines.
std::string LogQuote(std::string_view s);

// Quotes a path as one word for an operator's shell, for commands printed for them to run: '...'
// (any POSIX shell) when every byte is printable ASCII, else $'...' with \xNN for every other byte
// (bash, zsh, ksh93, busybox sh, POSIX.1-2024; not dash), so that a hostile name can neither split
// the word nor drive the terminal.
std::string ShellQuote(std::string_view s);

}  // namespace dfs
