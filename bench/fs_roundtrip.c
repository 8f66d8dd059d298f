/* fs_roundtrip: the cost of one request the kernel sends to a FUSE daemon, seen by the caller.
 * FILE is a regular file; N iterations of each probe, after 1000 untimed ones. Prints
 *   getxattr_us X   (lgetxattr of security.selinux: one GETXATTR request on a FUSE mount, never
 *                    cached by the kernel; ENODATA on a file without the label)
 *   openclose_us Y  (open O_RDONLY + close: one OPEN request, then an asynchronous RELEASE)
 * in microseconds per call. Built and run by bench/workload_bench.sh. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: fs_roundtrip FILE N\n");
    return 2;
  }
  const char* f = argv[1];
  int n = atoi(argv[2]);
  char buf[256];
  for (int i = 0; i < 1000; ++i) {
    lgetxattr(f, "security.selinux", buf, sizeof buf);
    int fd = open(f, O_RDONLY);
    if (fd < 0) {
      perror(f);
      return 1;
    }
    close(fd);
  }
  double t = now();
  for (int i = 0; i < n; ++i) lgetxattr(f, "security.selinux", buf, sizeof buf);
  printf("getxattr_us %.2f\n", (now() - t) / n * 1e6);
  t = now();
  for (int i = 0; i < n; ++i) {
    int fd = open(f, O_RDONLY);
    if (fd < 0) {
      perror(f);
      return 1;
    }
    close(fd);
  }
  printf("openclose_us %.2f\n", (now() - t) / n * 1e6);
  return 0;
}
