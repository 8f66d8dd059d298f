/* fuse_uring_probe: does FUSE-over-io_uring (Linux >= 6.14) lower the per-request cost that a
 * caller pays on a FUSE mount, compared with the classic read/write(/dev/fuse) transport?
 *
 * A tiny self-mounting FUSE server (no libfuse): the root directory holds one regular file `f`
 * (6 bytes). Every request is answered by the same handler; only the transport differs:
 *   --mode dev    THREADS threads (default: one per CPU) read /dev/fuse and write the replies.
 *   --mode uring  INIT is answered on /dev/fuse with FUSE_INIT_EXT + FUSE_OVER_IO_URING; then one
 *                 thread per possible CPU, pinned to it, owns an io_uring (SQE128) and registers
 *                 ENTRIES ring entries for queue qid == cpu (FUSE_IO_URING_CMD_REGISTER), answering
 *                 each request with FUSE_IO_URING_CMD_COMMIT_AND_FETCH. A /dev/fuse reader stays
 *                 for what the kernel still sends there (INIT, FORGET, INTERRUPT).
 * Per-transport (and per-queue) request counts are printed to stderr on SIGUSR1 and on exit, so one
 * can check that the ring really carried the requests. The kernel offers FUSE_OVER_IO_URING in INIT
 * only while /sys/module/fuse/parameters/enable_uring is Y; without it requests stay on /dev/fuse
 * and REGISTER fails with EOPNOTSUPP (the probe then unmounts and exits). Once the flag is
 * accepted, requests wait until every possible CPU's queue has a registered entry.
 *
 * Build:  gcc -O2 -Wall -o fuse_uring_probe fuse_uring_probe.c -luring -lpthread
 *         (needs liburing-dev; Debian 12's linux/fuse.h is used for the classic structs, the
 *         io_uring uAPI parts are defined below)
 * Run (root):
 *   echo Y > /sys/module/fuse/parameters/enable_uring       # only for --mode uring
 *   mkdir -p /tmp/m && ./fuse_uring_probe /tmp/m --mode uring &
 *   gcc -O2 -o roundtrip bench/fs_roundtrip.c && ./roundtrip /tmp/m/f 20000   # or taskset -c 0 ...
 *   kill -USR1 %1; kill %1          # counts; SIGTERM = lazy unmount + exit (or: umount /tmp/m)
 *   echo N > /sys/module/fuse/parameters/enable_uring
 * Options: --threads N (dev mode readers), --entries N (ring entries per queue, default 2),
 *          --ring-flags HEX (extra io_uring_setup flags, e.g. 0x3000 = SINGLE_ISSUER|DEFER_TASKRUN),
 *          --queues N (register only queues 0..N-1: shows what the kernel does with an incomplete ring)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <liburing.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* ---- FUSE-over-io_uring uAPI (include/uapi/linux/fuse.h, protocol 7.42, Linux 6.14+) ---- */
#ifndef FUSE_OVER_IO_URING
#define FUSE_OVER_IO_URING (1ULL << 41)
#endif
#define PROBE_URING_IN_OUT_HEADER_SZ 128
#define PROBE_URING_OP_IN_OUT_SZ 128
struct probe_uring_ent_in_out {
  uint64_t flags;
  uint64_t commit_id; /* the request's unique; echo it in the commit command */
  uint32_t payload_sz; /* valid bytes in the payload buffer (both directions) */
  uint32_t padding;
  uint64_t reserved;
};
struct probe_uring_req_header {
  char in_out[PROBE_URING_IN_OUT_HEADER_SZ]; /* fuse_in_header on fetch, fuse_out_header on commit */
  char op_in[PROBE_URING_OP_IN_OUT_SZ];      /* the per-opcode struct (first in-arg) */
  struct probe_uring_ent_in_out ring_ent_in_out;
};
enum probe_uring_cmd {
  PROBE_URING_CMD_INVALID = 0,
  PROBE_URING_CMD_REGISTER = 1,
  PROBE_URING_CMD_COMMIT_AND_FETCH = 2,
};
struct probe_uring_cmd_req { /* in the 80-byte command area of a 128-byte SQE */
  uint64_t flags;
  uint64_t commit_id;
  uint16_t qid;
  uint8_t padding[6];
};
_Static_assert(sizeof(struct probe_uring_req_header) == 288, "header layout");
_Static_assert(sizeof(struct probe_uring_cmd_req) == 24, "cmd layout");

/* ---- the filesystem ---- */
#define ROOT_INO 1
#define FILE_INO 2
static const char kFileData[] = "hello\n";
#define FILE_SIZE (sizeof kFileData - 1)
#define MAX_WRITE (128 * 1024)
#define MAX_PAGES 32
#define PAYLOAD_SZ (256 * 1024) /* >= max(FUSE_MIN_READ_BUFFER, max_write, max_pages*4096) */
#define DEV_BUF_SZ (PAYLOAD_SZ + 4096)
#define NOREPLY 1 /* handler result: send nothing */

static int g_fd = -1;
static const char* g_mnt;
static int g_uring;
static int g_ncpu;
static int g_nqueues = -1; /* queues to register; default all (the kernel needs all) */
static int g_entries = 2;
static unsigned g_ring_flags;
static atomic_int g_uring_started;
static atomic_int g_uring_ready_queues;

enum { T_DEV = 0, T_RING = 1 };
#define NOPS 64
static atomic_ulong g_count[2][NOPS];
#define MAXQ 256
static atomic_ulong g_qcount[MAXQ]; /* requests served per ring queue (qid == cpu) */

static const char* opname(unsigned op) {
  switch (op) {
    case FUSE_LOOKUP: return "LOOKUP";
    case FUSE_FORGET: return "FORGET";
    case FUSE_GETATTR: return "GETATTR";
    case FUSE_OPEN: return "OPEN";
    case FUSE_READ: return "READ";
    case FUSE_STATFS: return "STATFS";
    case FUSE_RELEASE: return "RELEASE";
    case FUSE_GETXATTR: return "GETXATTR";
    case FUSE_LISTXATTR: return "LISTXATTR";
    case FUSE_FLUSH: return "FLUSH";
    case FUSE_INIT: return "INIT";
    case FUSE_OPENDIR: return "OPENDIR";
    case FUSE_READDIR: return "READDIR";
    case FUSE_RELEASEDIR: return "RELEASEDIR";
    case FUSE_ACCESS: return "ACCESS";
    case FUSE_INTERRUPT: return "INTERRUPT";
    case FUSE_DESTROY: return "DESTROY";
    case FUSE_BATCH_FORGET: return "BATCH_FORGET";
    default: return "other";
  }
}

static void print_counts(const char* why) {
  unsigned long tot[2] = {0, 0};
  fprintf(stderr, "fuse_uring_probe counts (%s), mode %s:\n", why, g_uring ? "uring" : "dev");
  for (unsigned op = 0; op < NOPS; ++op) {
    unsigned long d = atomic_load(&g_count[T_DEV][op]), r = atomic_load(&g_count[T_RING][op]);
    tot[0] += d;
    tot[1] += r;
    if (d || r) fprintf(stderr, "  %-12s op%-3u dev %10lu  ring %10lu\n", opname(op), op, d, r);
  }
  fprintf(stderr, "  TOTAL              dev %10lu  ring %10lu\n", tot[0], tot[1]);
  if (g_uring)
    for (int q = 0; q < g_ncpu && q < MAXQ; ++q)
      fprintf(stderr, "  ring queue %d (cpu %d): %lu requests\n", q, q, atomic_load(&g_qcount[q]));
}

/* Size of the fixed per-opcode struct that precedes further in-args in the classic format (the
 * ring puts this struct in op_in and the rest in the payload). */
static size_t op_in_size(unsigned op) {
  switch (op) {
    case FUSE_GETATTR: return sizeof(struct fuse_getattr_in);
    case FUSE_OPEN:
    case FUSE_OPENDIR: return sizeof(struct fuse_open_in);
    case FUSE_READ:
    case FUSE_READDIR: return sizeof(struct fuse_read_in);
    case FUSE_RELEASE:
    case FUSE_RELEASEDIR: return sizeof(struct fuse_release_in);
    case FUSE_GETXATTR:
    case FUSE_LISTXATTR: return sizeof(struct fuse_getxattr_in);
    case FUSE_FLUSH: return sizeof(struct fuse_flush_in);
    case FUSE_ACCESS: return sizeof(struct fuse_access_in);
    case FUSE_INIT: return sizeof(struct fuse_init_in);
    case FUSE_FORGET: return sizeof(struct fuse_forget_in);
    case FUSE_BATCH_FORGET: return sizeof(struct fuse_batch_forget_in);
    case FUSE_INTERRUPT: return sizeof(struct fuse_interrupt_in);
    default: return 0; /* LOOKUP (name only), STATFS, DESTROY, ... */
  }
}

static void fill_attr(uint64_t ino, struct fuse_attr* a) {
  memset(a, 0, sizeof *a);
  a->ino = ino;
  a->blksize = 4096;
  if (ino == ROOT_INO) {
    a->mode = S_IFDIR | 0755;
    a->nlink = 2;
    a->size = 4096;
  } else {
    a->mode = S_IFREG | 0644;
    a->nlink = 1;
    a->size = FILE_SIZE;
    a->blocks = 1;
  }
}

static size_t add_dirent(char* out, size_t cap, uint64_t ino, uint64_t off, unsigned type,
                         const char* name) {
  size_t nl = strlen(name);
  size_t rec = (offsetof(struct fuse_dirent, name) + nl + 7) & ~(size_t)7;
  if (rec > cap) return 0;
  struct fuse_dirent* d = (struct fuse_dirent*)out;
  memset(out, 0, rec);
  d->ino = ino;
  d->off = off;
  d->namelen = (uint32_t)nl;
  d->type = type;
  memcpy(d->name, name, nl);
  return rec;
}

static void after_init(void);

/* The one request handler, shared by both transports. ih: in header; op: the per-opcode struct;
 * pl/pl_len: the remaining in-args (e.g. names). Writes the reply args to out and returns their
 * size, or -errno, or NOREPLY. */
static int handle(const struct fuse_in_header* ih, const void* op, const char* pl, size_t pl_len,
                  char* out, size_t outcap, int transport) {
  unsigned opc = ih->opcode;
  atomic_fetch_add_explicit(&g_count[transport][opc < NOPS ? opc : 0], 1, memory_order_relaxed);
  switch (opc) {
    case FUSE_INIT: {
      const struct fuse_init_in* in = op;
      struct fuse_init_out* o = (struct fuse_init_out*)out;
      memset(o, 0, sizeof *o);
      o->major = FUSE_KERNEL_VERSION;
      o->minor = FUSE_KERNEL_MINOR_VERSION;
      fprintf(stderr, "INIT: kernel %u.%u flags 0x%x flags2 0x%x\n", in->major, in->minor,
              in->flags, (in->flags & FUSE_INIT_EXT) ? in->flags2 : 0);
      if (in->major != 7) return -EPROTO;
      o->max_readahead = in->max_readahead;
      o->flags = FUSE_INIT_EXT | FUSE_MAX_PAGES;
      o->max_background = 16;
      o->congestion_threshold = 12;
      o->max_write = MAX_WRITE;
      o->time_gran = 1;
      o->max_pages = MAX_PAGES;
      if (g_uring) {
        uint64_t kflags2 = (in->flags & FUSE_INIT_EXT) ? in->flags2 : 0;
        if (!((kflags2 << 32) & FUSE_OVER_IO_URING))
          fprintf(stderr, "INIT: kernel does not offer FUSE_OVER_IO_URING (enable_uring=N?)\n");
        o->flags2 = (uint32_t)(FUSE_OVER_IO_URING >> 32);
      }
      return sizeof *o;
    }
    case FUSE_DESTROY: return 0;
    case FUSE_FORGET:
    case FUSE_BATCH_FORGET:
    case FUSE_INTERRUPT: return NOREPLY;
    case FUSE_LOOKUP: {
      if (ih->nodeid != ROOT_INO || pl_len < 2 || strcmp(pl, "f") != 0) return -ENOENT;
      struct fuse_entry_out* e = (struct fuse_entry_out*)out;
      memset(e, 0, sizeof *e);
      e->nodeid = FILE_INO;
      e->generation = 1;
      e->entry_valid = 86400;
      e->attr_valid = 86400;
      fill_attr(FILE_INO, &e->attr);
      return sizeof *e;
    }
    case FUSE_GETATTR: {
      struct fuse_attr_out* a = (struct fuse_attr_out*)out;
      memset(a, 0, sizeof *a);
      a->attr_valid = 86400;
      fill_attr(ih->nodeid, &a->attr);
      return sizeof *a;
    }
    case FUSE_GETXATTR: return -ENODATA;
    case FUSE_LISTXATTR: {
      const struct fuse_getxattr_in* in = op;
      if (in->size == 0) {
        struct fuse_getxattr_out* g = (struct fuse_getxattr_out*)out;
        memset(g, 0, sizeof *g);
        return sizeof *g;
      }
      return 0;
    }
    case FUSE_ACCESS: return 0;
    case FUSE_OPEN:
    case FUSE_OPENDIR: {
      struct fuse_open_out* o = (struct fuse_open_out*)out;
      memset(o, 0, sizeof *o);
      o->fh = ih->nodeid;
      if (opc == FUSE_OPEN) o->open_flags = FOPEN_KEEP_CACHE | FOPEN_NOFLUSH;
      return sizeof *o;
    }
    case FUSE_RELEASE:
    case FUSE_RELEASEDIR:
    case FUSE_FLUSH: return 0;
    case FUSE_READ: {
      const struct fuse_read_in* in = op;
      if (in->offset >= FILE_SIZE) return 0;
      size_t n = FILE_SIZE - in->offset;
      if (n > in->size) n = in->size;
      if (n > outcap) n = outcap;
      memcpy(out, kFileData + in->offset, n);
      return (int)n;
    }
    case FUSE_READDIR: {
      const struct fuse_read_in* in = op;
      size_t cap = in->size < outcap ? in->size : outcap, n = 0, r;
      static const struct { uint64_t ino; unsigned type; const char* name; } ents[] = {
          {ROOT_INO, 4 /*DT_DIR*/, "."}, {ROOT_INO, 4, ".."}, {FILE_INO, 8 /*DT_REG*/, "f"}};
      for (uint64_t i = in->offset; i < 3; ++i) {
        r = add_dirent(out + n, cap - n, ents[i].ino, i + 1, ents[i].type, ents[i].name);
        if (!r) break;
        n += r;
      }
      return (int)n;
    }
    case FUSE_STATFS: {
      struct fuse_statfs_out* s = (struct fuse_statfs_out*)out;
      memset(s, 0, sizeof *s);
      s->st.blocks = s->st.bfree = s->st.bavail = 1024;
      s->st.files = 2;
      s->st.bsize = s->st.frsize = 4096;
      s->st.namelen = 255;
      return sizeof *s;
    }
    default: return -ENOSYS;
  }
}

/* ---- classic transport ---- */
static void* dev_thread(void* arg) {
  (void)arg;
  char* buf = malloc(DEV_BUF_SZ);
  char* out = malloc(PAYLOAD_SZ);
  for (;;) {
    ssize_t n = read(g_fd, buf, DEV_BUF_SZ);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == ENOENT) continue;
      if (errno != ENODEV) perror("read /dev/fuse");
      break;
    }
    if ((size_t)n < sizeof(struct fuse_in_header)) continue;
    const struct fuse_in_header* ih = (const struct fuse_in_header*)buf;
    size_t hs = sizeof *ih, os = op_in_size(ih->opcode);
    if (hs + os > (size_t)n) os = n - hs;
    int r = handle(ih, buf + hs, buf + hs + os, n - hs - os, out, PAYLOAD_SZ, T_DEV);
    if (r == NOREPLY) continue;
    struct fuse_out_header oh = {.len = sizeof oh, .error = 0, .unique = ih->unique};
    struct iovec iov[2] = {{&oh, sizeof oh}, {out, 0}};
    if (r < 0)
      oh.error = r;
    else {
      iov[1].iov_len = r;
      oh.len += r;
    }
    unsigned opcode = ih->opcode;
    if (writev(g_fd, iov, r > 0 ? 2 : 1) < 0 && errno != ENOENT) perror("writev /dev/fuse");
    if (opcode == FUSE_INIT && r > 0) after_init();
  }
  free(buf);
  free(out);
  kill(getpid(), SIGUSR2); /* tell main: connection gone */
  return NULL;
}

/* ---- io_uring transport ---- */
struct ring_ent {
  struct probe_uring_req_header hdr __attribute__((aligned(64)));
  char* payload;
  struct iovec iov[2];
};

static void prep_cmd(struct io_uring* ring, struct ring_ent* e, int idx, unsigned cmd_op, int qid,
                     uint64_t commit_id) {
  struct io_uring_sqe* sqe = io_uring_get_sqe(ring);
  if (!sqe) {
    io_uring_submit(ring);
    sqe = io_uring_get_sqe(ring);
  }
  void* volatile whole = sqe; /* 128 bytes (SQE128): liburing's struct only declares 64 */
  memset(whole, 0, 128);
  sqe->opcode = IORING_OP_URING_CMD;
  sqe->fd = g_fd;
  sqe->cmd_op = cmd_op;
  sqe->addr = (uint64_t)(uintptr_t)e->iov;
  sqe->len = 2;
  sqe->user_data = (uint64_t)idx;
  struct probe_uring_cmd_req* c = (struct probe_uring_cmd_req*)sqe->cmd;
  c->qid = (uint16_t)qid;
  c->commit_id = commit_id;
}

static void* ring_thread(void* arg) {
  int qid = (int)(intptr_t)arg;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(qid, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) perror("sched_setaffinity");

  struct io_uring ring;
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  p.flags = IORING_SETUP_SQE128 | g_ring_flags;
  int err = io_uring_queue_init_params(2 * g_entries + 2, &ring, &p);
  if (err < 0) {
    fprintf(stderr, "queue %d: io_uring_queue_init_params: %s\n", qid, strerror(-err));
    kill(getpid(), SIGTERM);
    return NULL;
  }
  struct ring_ent* ents = aligned_alloc(64, sizeof(struct ring_ent) * g_entries);
  char* out = malloc(PAYLOAD_SZ);
  memset(ents, 0, sizeof(struct ring_ent) * g_entries);
  for (int i = 0; i < g_entries; ++i) {
    ents[i].payload = aligned_alloc(4096, PAYLOAD_SZ);
    memset(ents[i].payload, 0, PAYLOAD_SZ);
    ents[i].iov[0] = (struct iovec){&ents[i].hdr, sizeof ents[i].hdr};
    ents[i].iov[1] = (struct iovec){ents[i].payload, PAYLOAD_SZ};
  }
  /* REGISTER needs fc->initialized; the INIT reply was already written, but retry on EAGAIN. */
  for (int i = 0; i < g_entries; ++i) {
    for (int tries = 0;; ++tries) {
      prep_cmd(&ring, &ents[i], i, PROBE_URING_CMD_REGISTER, qid, 0);
      io_uring_submit(&ring);
      /* a successful REGISTER stays queued (no CQE) until a request arrives; an error completes
       * at once */
      struct io_uring_cqe* cqe = NULL;
      struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = 20 * 1000 * 1000};
      int w = io_uring_wait_cqe_timeout(&ring, &cqe, &ts);
      if (w == -ETIME) break; /* registered */
      if (w == 0 && cqe->user_data == (uint64_t)i && cqe->res < 0) {
        int res = cqe->res;
        io_uring_cqe_seen(&ring, cqe);
        if (res == -EAGAIN && tries < 100) continue;
        fprintf(stderr, "queue %d entry %d: FUSE_IO_URING_CMD_REGISTER failed: %s (%d)\n", qid, i,
                strerror(-res), res);
        kill(getpid(), SIGTERM); /* main thread: lazy unmount, counts, exit */
        return NULL;
      }
      break; /* w==0 with a request already delivered: leave it in the CQ for the loop */
    }
  }
  fprintf(stderr, "queue %d (cpu %d): %d entries registered\n", qid, sched_getcpu(), g_entries);
  atomic_fetch_add(&g_uring_ready_queues, 1);

  for (;;) {
    struct io_uring_cqe* cqe;
    int w;
    w = io_uring_submit_and_wait(&ring, 1);
    if (w >= 0) w = io_uring_peek_cqe(&ring, &cqe);
    if (w == -EINTR || w == -EAGAIN) continue;
    if (w < 0) {
      fprintf(stderr, "queue %d: wait: %s\n", qid, strerror(-w));
      break;
    }
    unsigned head, seen = 0;
    int dead = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      ++seen;
      int idx = (int)cqe->user_data;
      if (cqe->res < 0) {
        if (cqe->res != -ENOTCONN && cqe->res != -ECANCELED)
          fprintf(stderr, "queue %d entry %d: cqe res %s (%d)\n", qid, idx, strerror(-cqe->res),
                  cqe->res);
        dead = 1;
        continue;
      }
      struct ring_ent* e = &ents[idx];
      const struct fuse_in_header* ih = (const struct fuse_in_header*)e->hdr.in_out;
      uint64_t commit_id = e->hdr.ring_ent_in_out.commit_id;
      uint32_t plen = e->hdr.ring_ent_in_out.payload_sz;
      int r = handle(ih, e->hdr.op_in, e->payload, plen, out, PAYLOAD_SZ, T_RING);
      if (qid < MAXQ) atomic_fetch_add_explicit(&g_qcount[qid], 1, memory_order_relaxed);
      struct fuse_out_header* oh = (struct fuse_out_header*)e->hdr.in_out;
      uint64_t unique = ih->unique;
      memset(oh, 0, sizeof *oh);
      oh->unique = unique;
      oh->len = sizeof *oh;
      if (r == NOREPLY) r = 0; /* nothing that needs no reply comes through the ring */
      if (r < 0) {
        oh->error = r;
        e->hdr.ring_ent_in_out.payload_sz = 0;
      } else {
        memcpy(e->payload, out, r);
        oh->len += r;
        e->hdr.ring_ent_in_out.payload_sz = r;
      }
      prep_cmd(&ring, e, idx, PROBE_URING_CMD_COMMIT_AND_FETCH, qid, commit_id);
    }
    io_uring_cq_advance(&ring, seen);
    if (dead) break;
  }
  io_uring_queue_exit(&ring);
  return NULL;
}

static void after_init(void) {
  if (!g_uring || atomic_exchange(&g_uring_started, 1)) return;
  for (int q = 0; q < (g_nqueues >= 0 && g_nqueues < g_ncpu ? g_nqueues : g_ncpu); ++q) {
    pthread_t t;
    pthread_create(&t, NULL, ring_thread, (void*)(intptr_t)q);
    pthread_detach(t);
  }
}

static void usage(void) {
  fprintf(stderr,
          "usage: fuse_uring_probe MOUNTPOINT --mode dev|uring [--threads N] [--entries N] "
          "[--ring-flags HEX] [--queues N]\n");
  exit(2);
}

int main(int argc, char** argv) {
  int threads = 0, have_mode = 0;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--mode") && i + 1 < argc) {
      ++i;
      have_mode = 1;
      if (!strcmp(argv[i], "uring"))
        g_uring = 1;
      else if (strcmp(argv[i], "dev"))
        usage();
    } else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
      threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--entries") && i + 1 < argc)
      g_entries = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--queues") && i + 1 < argc)
      g_nqueues = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--ring-flags") && i + 1 < argc)
      g_ring_flags = (unsigned)strtoul(argv[++i], NULL, 16);
    else if (argv[i][0] != '-' && !g_mnt)
      g_mnt = argv[i];
    else
      usage();
  }
  if (!g_mnt || !have_mode || g_entries < 1) usage();
  g_ncpu = (int)sysconf(_SC_NPROCESSORS_CONF); /* kernel: one queue per possible CPU */
  if (threads <= 0) threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
  if (g_uring) {
    FILE* f = fopen("/sys/module/fuse/parameters/enable_uring", "r");
    int c = f ? fgetc(f) : '?';
    if (f) fclose(f);
    fprintf(stderr, "enable_uring=%c, %d queues\n", c, g_ncpu);
    threads = 1; /* /dev/fuse reader for INIT/FORGET/INTERRUPT (and fallback) */
  }

  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGUSR1);
  sigaddset(&sigs, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* inherited by all threads; main uses sigwait */

  g_fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (g_fd < 0) {
    perror("open /dev/fuse");
    return 1;
  }
  char opts[256];
  snprintf(opts, sizeof opts,
           "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions", g_fd);
  if (mount("uringprobe", g_mnt, "fuse.uringprobe", MS_NOSUID | MS_NODEV, opts) != 0) {
    perror("mount");
    return 1;
  }
  fprintf(stderr, "mounted %s (mode %s, pid %d)\n", g_mnt, g_uring ? "uring" : "dev", getpid());
  for (int i = 0; i < threads; ++i) {
    pthread_t t;
    pthread_create(&t, NULL, dev_thread, NULL);
    pthread_detach(t);
  }
  int unmounting = 0;
  for (;;) {
    int sig;
    if (unmounting) {
      struct timespec to = {5, 0};
      sig = sigtimedwait(&sigs, NULL, &to);
      if (sig < 0) break; /* connection did not go away in time: exit anyway */
    } else if (sigwait(&sigs, &sig) != 0)
      continue;
    if (sig == SIGUSR1) {
      print_counts("SIGUSR1");
    } else if (sig == SIGUSR2) {
      break; /* /dev/fuse reader saw ENODEV: unmounted */
    } else if (!unmounting) {
      unmounting = 1;
      if (umount2(g_mnt, MNT_DETACH) != 0) perror("umount2");
    }
  }
  print_counts("exit");
  _exit(0);
}
