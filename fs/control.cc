#include "fs/control.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

namespace dfs::fs {

namespace {

std::atomic<int> g_wr{-1};  // the self-pipe's write end, read by the signal handler

void OnSignal(int sig) {
  int saved = errno;
  int fd = g_wr.load(std::memory_order_relaxed);
  if (fd >= 0) {
    char c = sig == SIGHUP ? 'H' : sig == SIGUSR1 ? 'U' : 'Q';
    ssize_t n = write(fd, &c, 1);  // a full pipe drops the byte: a wakeup is already pending
    (void)n;
  }
  errno = saved;
}

}  // namespace

Status ControlThread::Start(unsigned interval_seconds, std::function<void()> publish,
                            std::function<void()> reload) {
  int p[2];
  if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) return Status::FromErrno(errno, "control pipe");
  rd_.reset(p[0]);
  wr_.reset(p[1]);
  interval_ = interval_seconds;
  publish_ = std::move(publish);
  reload_ = std::move(reload);
  g_wr.store(wr_.get());
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  if (sigaction(SIGUSR1, &sa, nullptr) != 0 || sigaction(SIGHUP, &sa, nullptr) != 0) {
    Status s = Status::FromErrno(errno, "installing SIGUSR1/SIGHUP handlers");
    g_wr.store(-1);
    return s;
  }
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void ControlThread::Stop() {
  if (!thread_.joinable()) return;
  struct sigaction sa = {};
  sa.sa_handler = SIG_DFL;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGUSR1, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
  char c = 'Q';
  ssize_t n = write(wr_.get(), &c, 1);
  (void)n;
  thread_.join();
  g_wr.store(-1);
}

void ControlThread::Loop() {
  publish_();
  for (;;) {
    pollfd pfd = {rd_.get(), POLLIN, 0};
    int timeout = interval_ == 0 ? -1 : static_cast<int>(interval_) * 1000;
    int r = poll(&pfd, 1, timeout);
    if (r < 0 && errno != EINTR) {
      spdlog::error("event=control_poll_failed err={}", errno);
      return;
    }
    bool hup = false, quit = false;
    if (r > 0) {
      char buf[64];
      ssize_t n;
      while ((n = read(rd_.get(), buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < n; ++i) {
          if (buf[i] == 'H') hup = true;
          if (buf[i] == 'Q') quit = true;
        }
      }
    }
    if (quit) return;
    if (hup && reload_) reload_();
    publish_();
  }
}

}  // namespace dfs::fs
