// fsx: an fsx-style random-operation exerciser. It applies a seeded random sequence of writes,
// truncates, hole punches, mmap writes, reads and mmap reads to one file and checks every read
// (and, at the end, the whole file) against an in-memory model of what the file must contain.
//
// usage: fsx [-N OPS] [-S SEED] [-l MAXLEN] FILE
// Exit 0: no mismatch; 1: a mismatch or failed operation (the last operations are printed);
// 2: usage.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

namespace {

uint64_t g_state;
uint64_t Rand() {  // xorshift64*
  g_state ^= g_state >> 12;
  g_state ^= g_state << 25;
  g_state ^= g_state >> 27;
  return g_state * 2685821657736338717ULL;
}
size_t Below(size_t n) { return n == 0 ? 0 : Rand() % n; }

std::vector<uint8_t> g_model;
std::deque<std::string> g_log;
const char* g_file;
int g_fd = -1;
long g_op = 0;
const long kPage = sysconf(_SC_PAGESIZE);

void Log(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void Log(const char* fmt, ...) {
  char buf[160];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  g_log.push_back(std::to_string(g_op) + ": " + buf);
  if (g_log.size() > 30) g_log.pop_front();
}

[[noreturn]] void Die(const char* what) {
  fprintf(stderr, "fsx: %s at op %ld (%s)\nlast operations:\n", what, g_op,
          errno ? strerror(errno) : "-");
  for (auto& l : g_log) fprintf(stderr, "  %s\n", l.c_str());
  exit(1);
}

void Check(const uint8_t* got, size_t off, size_t len, const char* how) {
  for (size_t i = 0; i < len; ++i) {
    uint8_t want = off + i < g_model.size() ? g_model[off + i] : 0;
    if (got[i] != want) {
      fprintf(stderr, "fsx: %s mismatch at offset %zu: got 0x%02x want 0x%02x\n", how, off + i,
              got[i], want);
      Die("data mismatch");
    }
  }
}

void DoWrite(size_t maxlen) {
  size_t off = Below(maxlen), len = 1 + Below(maxlen / 8);
  std::vector<uint8_t> buf(len);
  for (size_t i = 0; i < len; ++i) buf[i] = static_cast<uint8_t>(g_op * 7 + i * 13 + 1);
  Log("write off=%zu len=%zu", off, len);
  if (pwrite(g_fd, buf.data(), len, off) != static_cast<ssize_t>(len)) Die("pwrite");
  if (g_model.size() < off + len) g_model.resize(off + len, 0);
  memcpy(g_model.data() + off, buf.data(), len);
}

void DoRead() {
  size_t size = g_model.size();
  size_t off = Below(size + 100), len = 1 + Below(64 * 1024);
  Log("read off=%zu len=%zu size=%zu", off, len, size);
  std::vector<uint8_t> buf(len);
  ssize_t n = pread(g_fd, buf.data(), len, off);
  if (n < 0) Die("pread");
  size_t want = off >= size ? 0 : std::min(len, size - off);
  if (static_cast<size_t>(n) != want) {
    fprintf(stderr, "fsx: short read: got %zd want %zu\n", n, want);
    Die("read length");
  }
  Check(buf.data(), off, n, "read");
}

void DoTruncate(size_t maxlen) {
  size_t size = Below(maxlen);
  Log("truncate %zu (from %zu)", size, g_model.size());
  if (ftruncate(g_fd, size) != 0) Die("ftruncate");
  g_model.resize(size, 0);
}

void DoPunch() {
  if (g_model.empty()) return;
  size_t off = Below(g_model.size()), len = 1 + Below(g_model.size() - off);
  Log("punch off=%zu len=%zu", off, len);
  if (fallocate(g_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len) != 0) {
    if (errno == EOPNOTSUPP) return;
    Die("fallocate punch");
  }
  memset(g_model.data() + off, 0, len);
}

void DoMapRead() {
  size_t size = g_model.size();
  if (size == 0) return;
  size_t off = Below(size), len = 1 + Below(size - off);
  size_t pg = off - off % kPage;
  Log("mapread off=%zu len=%zu", off, len);
  void* m = mmap(nullptr, len + (off - pg), PROT_READ, MAP_SHARED, g_fd, pg);
  if (m == MAP_FAILED) Die("mmap read");
  Check(static_cast<uint8_t*>(m) + (off - pg), off, len, "mmap read");
  munmap(m, len + (off - pg));
}

void DoMapWrite() {
  size_t size = g_model.size();
  if (size == 0) return;
  size_t off = Below(size), len = 1 + Below(std::min<size_t>(size - off, 32 * 1024));
  size_t pg = off - off % kPage;
  bool sync = Rand() & 1;
  Log("mapwrite off=%zu len=%zu msync=%d", off, len, sync);
  void* m = mmap(nullptr, len + (off - pg), PROT_READ | PROT_WRITE, MAP_SHARED, g_fd, pg);
  if (m == MAP_FAILED) Die("mmap write");
  uint8_t* p = static_cast<uint8_t*>(m) + (off - pg);
  for (size_t i = 0; i < len; ++i) p[i] = static_cast<uint8_t>(g_op * 11 + i * 3 + 5);
  memcpy(g_model.data() + off, p, len);
  if (sync && msync(m, len + (off - pg), MS_SYNC) != 0) Die("msync");
  munmap(m, len + (off - pg));
}

void Reopen() {
  Log("close+reopen");
  if (close(g_fd) != 0) Die("close");
  g_fd = open(g_file, O_RDWR);
  if (g_fd < 0) Die("reopen");
}

void CheckAll(const char* when) {
  struct stat st;
  if (fstat(g_fd, &st) != 0) Die("fstat");
  if (static_cast<size_t>(st.st_size) != g_model.size()) {
    fprintf(stderr, "fsx: %s: size %lld, model %zu\n", when, static_cast<long long>(st.st_size),
            g_model.size());
    Die("size mismatch");
  }
  std::vector<uint8_t> buf(g_model.size());
  if (pread(g_fd, buf.data(), buf.size(), 0) != static_cast<ssize_t>(buf.size())) Die("full read");
  Check(buf.data(), 0, buf.size(), when);
}

}  // namespace

int main(int argc, char** argv) {
  long ops = 20000;
  uint64_t seed = 1;
  size_t maxlen = 256 * 1024;
  int c;
  while ((c = getopt(argc, argv, "N:S:l:")) != -1) {
    switch (c) {
      case 'N':
        ops = atol(optarg);
        break;
      case 'S':
        seed = strtoull(optarg, nullptr, 10);
        break;
      case 'l':
        maxlen = strtoull(optarg, nullptr, 10);
        break;
      default:
        fprintf(stderr, "usage: fsx [-N OPS] [-S SEED] [-l MAXLEN] FILE\n");
        return 2;
    }
  }
  if (optind + 1 != argc || maxlen < 16) {
    fprintf(stderr, "usage: fsx [-N OPS] [-S SEED] [-l MAXLEN] FILE\n");
    return 2;
  }
  g_state = seed * 0x9e3779b97f4a7c15ULL + 1;
  g_file = argv[optind];
  g_fd = open(g_file, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (g_fd < 0) Die("open");
  long counts[8] = {};
  for (g_op = 1; g_op <= ops; ++g_op) {
    unsigned k = Rand() % 100;
    int kind = k < 30   ? 0
               : k < 55 ? 1
               : k < 63 ? 2
               : k < 70 ? 3
               : k < 80 ? 4
               : k < 90 ? 5
               : k < 97 ? 6
                        : 7;
    switch (kind) {
      case 0:
        DoWrite(maxlen);
        break;
      case 1:
        DoRead();
        break;
      case 2:
        DoTruncate(maxlen);
        break;
      case 3:
        DoPunch();
        break;
      case 4:
        DoMapRead();
        break;
      case 5:
        DoMapWrite();
        break;
      case 6:
        Reopen();
        break;
      case 7:
        CheckAll("periodic check");
        break;
    }
    ++counts[kind];
  }
  CheckAll("final check");
  close(g_fd);
  printf(
      "fsx: %ld ops, seed %llu, no mismatch (write %ld read %ld truncate %ld punch %ld "
      "mapread %ld mapwrite %ld reopen %ld check %ld), final size %zu\n",
      ops, static_cast<unsigned long long>(seed), counts[0], counts[1], counts[2], counts[3],
      counts[4], counts[5], counts[6], counts[7], g_model.size());
  return 0;
}
