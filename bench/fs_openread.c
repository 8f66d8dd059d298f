/* fs_openread: open + read 4 KiB + close over DIR/f0..f(COUNT-1), PASSES times; prints each pass's
 * rate in files per second, one per line. Built and run by bench/fs_bench.sh. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: fs_openread DIR COUNT PASSES\n");
    return 2;
  }
  int count = atoi(argv[2]), passes = atoi(argv[3]);
  char buf[4096], path[4096];
  for (int p = 0; p < passes; ++p) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < count; ++i) {
      snprintf(path, sizeof path, "%s/f%d", argv[1], i);
      int fd = open(path, O_RDONLY);
      if (fd < 0 || read(fd, buf, sizeof buf) != (ssize_t)sizeof buf) {
        perror(path);
        return 1;
      }
      close(fd);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
    printf("%.0f\n", count / s);
  }
  return 0;
}
