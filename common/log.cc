#include "common/log.h"

#include <fcntl.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/spdlog.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>

#include "common/fd.h"

namespace dfs {

namespace {

Result<Fd> OpenLogFile(const std::string& path) {
  Fd fd(open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return Status::FromErrno(errno, "opening log file " + path);
  return fd;
}

// Appends each formatted line with one write(2) (O_APPEND), so lines stay whole.
class FileSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  FileSink(std::string path, Fd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
  Status Reopen() {
    DFS_ASSIGN_OR_RETURN(Fd fd, OpenLogFile(path_));
    std::lock_guard lock(mutex_);
    fd_ = std::move(fd);
    return Status::Ok();
  }
  const std::string& path() const { return path_; }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t buf;
    formatter_->format(msg, buf);
    ssize_t n = write(fd_.get(), buf.data(), buf.size());
    (void)n;  // a full disk loses the line; nothing better to do from a logger
  }
  void flush_() override {}

 private:
  const std::string path_;
  Fd fd_;
};

std::mutex g_file_mu;
std::shared_ptr<FileSink> g_file_sink;  // guarded by g_file_mu

// Appends c as \xNN (two lowercase hex digits).
void AppendHexEscape(std::string& out, unsigned char c) {
  static const char* kDigits = "0123456789abcdef";
  out += "\\x";
  out += kDigits[c >> 4];
  out += kDigits[c & 0xf];
}

}  // namespace

Status InitFileLogging(const std::string& path, std::string_view level) {
  auto lvl = spdlog::level::from_str(std::string(level));
  if (lvl == spdlog::level::off && level != "off") {
    return Status(Code::kInvalidArgument, "unknown log level '" + std::string(level) + "'");
  }
  DFS_ASSIGN_OR_RETURN(Fd fd, OpenLogFile(path));
  auto sink = std::make_shared<FileSink>(path, std::move(fd));
  auto logger = std::make_shared<spdlog::logger>("digestfs-file", sink);
  logger->set_level(lvl);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e digestfs[%P] %l %v");
  spdlog::set_default_logger(logger);
  std::lock_guard lock(g_file_mu);
  g_file_sink = std::move(sink);
  return Status::Ok();
}

void ReopenLogFile() {
  std::shared_ptr<FileSink> sink;
  {
    std::lock_guard lock(g_file_mu);
    sink = g_file_sink;
  }
  if (!sink) return;
  if (Status s = sink->Reopen(); !s.ok()) {
    spdlog::error("event=logfile_reopen_failed reason={}", LogQuote(s.ToString()));
  } else {
    spdlog::info("event=logfile_reopened path={}", LogQuote(sink->path()));
  }
}

Status InitLogging(LogSink sink, std::string_view level, std::string_view ident) {
  auto lvl = spdlog::level::from_str(std::string(level));
  if (lvl == spdlog::level::off && level != "off") {
    return Status(Code::kInvalidArgument, "unknown log level '" + std::string(level) +
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
      AppendHexEscape(out, c);
    }
  }
  out += '"';
  return out;
}

std::string ShellQuote(std::string_view s) {
  bool plain = true;
  for (unsigned char c : s) plain = plain && c >= 0x20 && c < 0x7f;
  std::string out = plain ? "'" : "$'";
  for (unsigned char c : s) {
    if (c == '\'') {
      out += plain ? "'\\''" : "\\'";
    } else if (c == '\\' && !plain) {
      out += "\\\\";
    } else if (c < 0x20 || c >= 0x7f) {
      AppendHexEscape(out, c);
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '\'';
  return out;
}

}  // namespace dfs
