#include "common/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/spdlog.h>
#include <syslog.h>

#include <string>

namespace dfs {

Status InitLogging(LogSink sink, std::string_view level, std::string_view ident) {
  auto lvl = spdlog::level::from_str(std::string(level));
  if (lvl == spdlog::level::off && level != "off") {
    return Status(Code::kInvalidArgument,
                  "unknown log level '" + std::string(level) +
                      "' (trace, debug, info, warn, error, critical, off)");
  }
  std::shared_ptr<spdlog::logger> logger;
  if (sink == LogSink::kSyslog) {
    logger = spdlog::syslog_logger_mt("digestfs-syslog", std::string(ident), LOG_PID, LOG_DAEMON);
  } else {
    logger = spdlog::stderr_color_mt("digestfs-stderr");
  }
  logger->set_level(lvl);
  logger->set_pattern(sink == LogSink::kSyslog ? "%l %v" : "%Y-%m-%dT%H:%M:%S.%e %l [%t] %v");
  spdlog::set_default_logger(logger);
  return Status::Ok();
}

std::string LogQuote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      static const char* kDigits = "0123456789abcdef";
      out += "\\x";
      out += kDigits[c >> 4];
      out += kDigits[c & 0xf];
    }
  }
  out += '"';
  return out;
}

}  // namespace dfs
