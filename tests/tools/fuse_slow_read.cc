// fuse_slow_read: a minimal FUSE file system, in the foreground, whose one file's READs wait until
// a release file exists, while every other request is answered at once. A lower tree for tests
// that need a digestfs READ outstanding for as long as they like (tests/integration/
// faults_kill_stuck.sh). Not part of digestfs; a test tool, the one file outside fs/ that serves
// FUSE itself.
//
// usage: fuse_slow_read MOUNTPOINT RELEASE_FILE
//   MOUNTPOINT/f: a regular file of 64 KiB ('a' bytes), mode 0666; writes are accepted (and
//   dropped), xattrs are absent. Each READ of it waits (polling every 20 ms) until RELEASE_FILE
//   exists, then answers.
#include <fuse_lowlevel.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr fuse_ino_t kFile = 2;
constexpr off_t kSize = 64 * 1024;
std::string g_release;

struct stat Attr(fuse_ino_t ino) {
  struct stat st {};
  st.st_ino = ino;
  if (ino == FUSE_ROOT_ID) {
    st.st_mode = S_IFDIR | 0755;
    st.st_nlink = 2;
  } else {
    st.st_mode = S_IFREG | 0666;
    st.st_nlink = 1;
    st.st_size = kSize;
  }
  return st;
}

void Lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  if (parent != FUSE_ROOT_ID || strcmp(name, "f") != 0) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  fuse_entry_param e{};
  e.ino = kFile;
  e.attr = Attr(kFile);
  e.attr_timeout = 3600;
  e.entry_timeout = 3600;
  fuse_reply_entry(req, &e);
}

void Getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  struct stat st = Attr(ino);
  fuse_reply_attr(req, &st, 3600);
}

void Setattr(fuse_req_t req, fuse_ino_t ino, struct stat*, int, fuse_file_info*) {
  struct stat st = Attr(ino);
  fuse_reply_attr(req, &st, 3600);
}

void Open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  if (ino != kFile) {
    fuse_reply_err(req, EISDIR);
    return;
  }
  fuse_reply_open(req, fi);
}

void Read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info*) {
  while (access(g_release.c_str(), F_OK) != 0) usleep(20000);
  size_t n = off >= kSize ? 0 : std::min<size_t>(size, static_cast<size_t>(kSize - off));
  std::vector<char> buf(n, 'a');
  fuse_reply_buf(req, buf.data(), n);
}

void Write(fuse_req_t req, fuse_ino_t, const char*, size_t size, off_t, fuse_file_info*) {
  fuse_reply_write(req, size);
}

void Ok(fuse_req_t req, fuse_ino_t, fuse_file_info*) { fuse_reply_err(req, 0); }

void Fsync(fuse_req_t req, fuse_ino_t, int, fuse_file_info*) { fuse_reply_err(req, 0); }

void Getxattr(fuse_req_t req, fuse_ino_t, const char*, size_t) { fuse_reply_err(req, ENODATA); }

void Listxattr(fuse_req_t req, fuse_ino_t, size_t size) {
  if (size == 0) {
    fuse_reply_xattr(req, 0);
  } else {
    fuse_reply_buf(req, nullptr, 0);
  }
}

void Opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  if (ino != FUSE_ROOT_ID) {
    fuse_reply_err(req, ENOTDIR);
    return;
  }
  fuse_reply_open(req, fi);
}

void Readdir(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info*) {
  std::vector<char> buf(size);
  size_t used = 0;
  const char* names[] = {".", "..", "f"};
  const fuse_ino_t inos[] = {FUSE_ROOT_ID, FUSE_ROOT_ID, kFile};
  for (off_t i = off; i < 3; ++i) {
    struct stat st = Attr(inos[i]);
    size_t len = fuse_add_direntry(req, buf.data() + used, size - used, names[i], &st, i + 1);
    if (len > size - used) break;
    used += len;
  }
  fuse_reply_buf(req, buf.data(), used);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: fuse_slow_read MOUNTPOINT RELEASE_FILE\n");
    return 2;
  }
  g_release = argv[2];
  fuse_lowlevel_ops ops{};
  ops.lookup = Lookup;
  ops.getattr = Getattr;
  ops.setattr = Setattr;
  ops.open = Open;
  ops.read = Read;
  ops.write = Write;
  ops.flush = Ok;
  ops.release = Ok;
  ops.fsync = Fsync;
  ops.getxattr = Getxattr;
  ops.listxattr = Listxattr;
  ops.opendir = Opendir;
  ops.readdir = Readdir;
  ops.releasedir = Ok;
  char arg0[] = "fuse_slow_read";
  char* fargv[] = {arg0, nullptr};
  fuse_args args = FUSE_ARGS_INIT(1, fargv);
  fuse_session* se = fuse_session_new(&args, &ops, sizeof(ops), nullptr);
  if (se == nullptr) return 1;
  if (fuse_set_signal_handlers(se) != 0 || fuse_session_mount(se, argv[1]) != 0) {
    fuse_session_destroy(se);
    return 1;
  }
  fuse_loop_config* lc = fuse_loop_cfg_create();
  fuse_loop_cfg_set_max_threads(lc, 16);
  int rc = fuse_session_loop_mt(se, lc);
  fuse_loop_cfg_destroy(lc);
  fuse_session_unmount(se);
  fuse_remove_signal_handlers(se);
  fuse_session_destroy(se);
  return rc == 0 ? 0 : 1;
}
