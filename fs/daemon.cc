#include "fs/daemon.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/exit_codes.h"

namespace dfs::fs {

bool Daemonizer::Start() {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return false;
  pid_t pid = fork();
  if (pid < 0) {
    close(p[0]);
    close(p[1]);
    return false;
  }
  if (pid > 0) {
    close(p[1]);
    unsigned char code = 0;
    ssize_t n;
    do {
      n = read(p[0], &code, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1) {
      // The child died before reporting; reap it if it already exited.
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid && WIFEXITED(status) && WEXITSTATUS(status) != 0) {
        _exit(WEXITSTATUS(status));
      }
      _exit(kExitRuntime);
    }
    _exit(code);
  }
  close(p[0]);
  fd_ = p[1];
  setsid();
  return true;
}

void Daemonizer::Ready() {
  if (fd_ < 0) return;
  int dn = open("/dev/null", O_RDWR);
  if (dn >= 0) {
    dup2(dn, 0);
    dup2(dn, 1);
    dup2(dn, 2);
    if (dn > 2) close(dn);
  }
  if (chdir("/") != 0) {
    // Stays where it was; harmless.
  }
  unsigned char code = 0;
  ssize_t n = write(fd_, &code, 1);
  (void)n;
  close(fd_);
  fd_ = -1;
}

void Daemonizer::Fail(int code) {
  if (fd_ < 0) return;
  unsigned char c = static_cast<unsigned char>(code);
  ssize_t n = write(fd_, &c, 1);
  (void)n;
  close(fd_);
  fd_ = -1;
}

}  // namespace dfs::fs
