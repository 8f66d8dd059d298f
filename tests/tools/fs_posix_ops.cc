// fs_posix_ops: runs a fixed sequence of file-system operations under DIR and prints, for each, its
// return value, errno and the resulting state (mode, uid, gid, size, nlink, explicitly set times,
// content). tests/integration/fs_posix.sh runs it on a native tree and through a digestfs mount, as
// root and as an unprivileged user, and diffs the outputs: any difference is a POSIX deviation.
//
// Nothing printed depends on inode numbers, device numbers or the current time.
//
// usage: fs_posix_ops DIR
#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

int g_root = -1;  // DIR

void Out(const std::string& s) { std::printf("%s\n", s.c_str()); }

std::string Quote(const std::string& s) {
  std::string o;
  for (unsigned char c : s) {
    if (c >= 0x21 && c < 0x7f && c != '\\') {
      o += static_cast<char>(c);
    } else {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      o += b;
    }
  }
  return o.size() > 80 ? o.substr(0, 40) + "..(" + std::to_string(s.size()) + ")" : o;
}

// Prints "what -> rc [errno]".
long Res(const std::string& what, long rc) {
  int e = errno;
  if (rc < 0) {
    Out(what + " -> " + std::to_string(rc) + " " + strerrorname_np(e));
  } else {
    Out(what + " -> " + std::to_string(rc >= 0 && rc < 1000 ? rc : 0));
  }
  errno = e;
  return rc;
}

std::string Mode(mode_t m) {
  char b[16];
  std::snprintf(b, sizeof b, "%06o", static_cast<unsigned>(m));
  return b;
}

void Stat(const std::string& name, bool times = false) {
  struct stat st;
  if (fstatat(g_root, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    Out("  stat " + Quote(name) + " -> " + strerrorname_np(errno));
    return;
  }
  std::string s = "  stat " + Quote(name) + " mode=" + Mode(st.st_mode) +
                  " uid=" + std::to_string(st.st_uid) + " gid=" + std::to_string(st.st_gid) +
                  " nlink=" + std::to_string(st.st_nlink);
  if (!S_ISDIR(st.st_mode)) s += " size=" + std::to_string(st.st_size);
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
    s += " rdev=" + std::to_string(major(st.st_rdev)) + ":" + std::to_string(minor(st.st_rdev));
  }
  if (times) {
    s += " atime=" + std::to_string(st.st_atim.tv_sec) + "." + std::to_string(st.st_atim.tv_nsec) +
         " mtime=" + std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
  }
  Out(s);
}

void Content(const std::string& name) {
  int fd = openat(g_root, name.c_str(), O_RDONLY | O_NOFOLLOW);
  if (fd < 0) {
    Out("  content " + Quote(name) + " -> " + strerrorname_np(errno));
    return;
  }
  std::string data;
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) data.append(buf, n);
  close(fd);
  // FNV-1a and the first bytes.
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : data) h = (h ^ c) * 1099511628211ULL;
  char hb[20];
  std::snprintf(hb, sizeof hb, "%016llx", static_cast<unsigned long long>(h));
  Out("  content " + Quote(name) + " len=" + std::to_string(data.size()) + " fnv=" + hb +
      " head=" + Quote(data.substr(0, 16)));
}

void List(const std::string& dir) {
  int fd = openat(g_root, dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) {
    Out("  list " + Quote(dir) + " -> " + strerrorname_np(errno));
    return;
  }
  DIR* d = fdopendir(fd);
  std::vector<std::string> names;
  while (struct dirent* e = readdir(d)) {
    names.push_back(Quote(e->d_name) + ":" + std::to_string(e->d_type));
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  std::string s = "  list " + Quote(dir) + ":";
  for (auto& n : names) s += " " + n;
  Out(s);
}

int OpenAt(const std::string& name, int flags, mode_t mode = 0) {
  return openat(g_root, name.c_str(), flags | O_CLOEXEC, mode);
}

std::string Str(const char* s) { return s; }

void Files() {
  Out("== files");
  int fd =
      static_cast<int>(Res("create f1 excl 0640", OpenAt("f1", O_CREAT | O_EXCL | O_RDWR, 0640)));
  Stat("f1");
  Res("create f1 excl again", OpenAt("f1", O_CREAT | O_EXCL | O_RDWR, 0640));
  Res("write f1", write(fd, "hello world\n", 12));
  Res("pwrite f1 @100", pwrite(fd, "tail", 4, 100));
  char buf[200] = {};
  Res("pread f1 @0", pread(fd, buf, sizeof buf, 0));
  Out("  data " + Quote(std::string(buf, 16)));
  Stat("f1");
  Res("ftruncate 50", ftruncate(fd, 50));
  Stat("f1");
  Res("ftruncate 5000", ftruncate(fd, 5000));
  Content("f1");
  close(fd);
  Res("truncate path 7",
      truncate((Str("/proc/self/fd/") + std::to_string(g_root) + "/f1").c_str(), 7));
  Content("f1");

  fd = static_cast<int>(Res("open f1 append", OpenAt("f1", O_WRONLY | O_APPEND)));
  Res("write append", write(fd, "APPEND", 6));
  Res("lseek cur", lseek(fd, 0, SEEK_CUR) == 13 ? 0 : -1);
  close(fd);
  Content("f1");
  fd = static_cast<int>(Res("open f1 trunc", OpenAt("f1", O_WRONLY | O_TRUNC)));
  close(fd);
  Stat("f1");
  Res("open missing", OpenAt("missing", O_RDONLY));
  Res("open dir wronly", OpenAt(".", O_WRONLY));
  Res("open f1 directory", OpenAt("f1", O_RDONLY | O_DIRECTORY));
  Res("create in missing dir", OpenAt("nodir/x", O_CREAT | O_WRONLY, 0600));

  // umask applies to creations.
  mode_t old = umask(027);
  fd = static_cast<int>(Res("create f2 umask027 0666", OpenAt("f2", O_CREAT | O_WRONLY, 0666)));
  close(fd);
  Res("mkdir d2 umask027 0777", mkdirat(g_root, "d2", 0777));
  umask(old);
  Stat("f2");
  Stat("d2");
}

void Attrs() {
  Out("== attrs");
  int fd = OpenAt("a1", O_CREAT | O_RDWR, 0644);
  Res("write a1", write(fd, "0123456789", 10));
  Res("chmod 4755", fchmodat(g_root, "a1", 04755, 0));
  Stat("a1");
  Res("write after suid", pwrite(fd, "x", 1, 0));
  Stat("a1");
  Res("chmod 2755", fchmodat(g_root, "a1", 02755, 0));
  Stat("a1");
  Res("ftruncate after sgid", ftruncate(fd, 3));
  Stat("a1");
  // An O_TRUNC open clears setuid and group-executable setgid unless the opener has CAP_FSETID.
  Res("chmod 6755 before an O_TRUNC open", fchmodat(g_root, "a1", 06755, 0));
  int tfd = static_cast<int>(Res("open a1 trunc after suid", OpenAt("a1", O_WRONLY | O_TRUNC)));
  if (tfd >= 0) close(tfd);
  Stat("a1");
  Res("chmod 0600", fchmodat(g_root, "a1", 0600, 0));
  Stat("a1");
  Res("chown 1234:5678", fchownat(g_root, "a1", 1234, 5678, 0));
  Stat("a1");
  Res("chgrp own gid", fchownat(g_root, "a1", -1, getegid(), 0));
  Stat("a1");
  Res("chown back", fchownat(g_root, "a1", geteuid(), getegid(), 0));
  struct timespec ts[2] = {{1000000000, 123456789}, {1100000000, 987654321}};
  Res("utimensat explicit", utimensat(g_root, "a1", ts, 0));
  Stat("a1", true);
  struct timespec ts2[2] = {{1200000000, 5}, {0, UTIME_OMIT}};
  Res("utimensat atime, mtime OMIT", utimensat(g_root, "a1", ts2, 0));
  Stat("a1", true);
  struct timespec ts3[2] = {{0, UTIME_OMIT}, {1300000000, 7}};
  Res("futimens mtime only", futimens(fd, ts3));
  Stat("a1", true);
  struct stat before, after;
  fstatat(g_root, "a1", &before, 0);
  struct timespec now[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
  Res("utimensat mtime NOW", utimensat(g_root, "a1", now, 0));
  fstatat(g_root, "a1", &after, 0);
  Out(std::string("  mtime moved: ") +
      (after.st_mtim.tv_sec > before.st_mtim.tv_sec ? "yes" : "no") +
      " atime kept: " + (after.st_atim.tv_sec == before.st_atim.tv_sec ? "yes" : "no"));
  close(fd);
  Res("chmod root-owned", fchmodat(g_root, "rootfile", 0666, 0));
  Res("utimensat NOW root-owned", utimensat(g_root, "rootfile", nullptr, 0));
  Res("open root-owned 0600 rdonly", OpenAt("rootfile", O_RDONLY) >= 0 ? 0 : -1);
  Res("access a1 R", faccessat(g_root, "a1", R_OK, 0));
  Res("access a1 X", faccessat(g_root, "a1", X_OK, 0));
  Res("access rootfile W", faccessat(g_root, "rootfile", W_OK, 0));
  Res("access rootfile W eaccess", faccessat(g_root, "rootfile", W_OK, AT_EACCESS));
}

void Dirs() {
  Out("== dirs");
  Res("mkdir d 0755", mkdirat(g_root, "d", 0755));
  Res("mkdir d again", mkdirat(g_root, "d", 0755));
  Res("mkdir d/e 0700", mkdirat(g_root, "d/e", 0700));
  Stat("d");
  Stat("d/e");
  Res("rmdir d nonempty", unlinkat(g_root, "d", AT_REMOVEDIR));
  Res("unlink d (dir)", unlinkat(g_root, "d", 0));
  int fd = OpenAt("d/file", O_CREAT | O_WRONLY, 0644);
  close(fd);
  Res("rmdir d/file (file)", unlinkat(g_root, "d/file", AT_REMOVEDIR));
  Res("rmdir d/e", unlinkat(g_root, "d/e", AT_REMOVEDIR));
  List("d");
  Stat("d");
  Res("rmdir . ", unlinkat(g_root, "d/.", AT_REMOVEDIR));
  // setgid directory inheritance.
  Res("mkdir sg 0775", mkdirat(g_root, "sg", 0775));
  Res("chown sg :100", fchownat(g_root, "sg", -1, 100, 0));
  Res("chmod sg 2775", fchmodat(g_root, "sg", 02775, 0));
  Stat("sg");
  fd = static_cast<int>(Res("create sg/f", OpenAt("sg/f", O_CREAT | O_WRONLY, 02755)));
  close(fd);
  Res("mkdir sg/sub", mkdirat(g_root, "sg/sub", 0755));
  Stat("sg/f");
  Stat("sg/sub");
  // A setgid directory prepared by the test (root:100, 02777): the caller may not be in group 100.
  fd = static_cast<int>(Res("create sgdir/f 02755", OpenAt("sgdir/f", O_CREAT | O_WRONLY, 02755)));
  close(fd);
  Res("mkdir sgdir/sub 02755", mkdirat(g_root, "sgdir/sub", 02755));
  Res("mkdir sgdir/sub2 0755", mkdirat(g_root, "sgdir/sub2", 0755));
  Stat("sgdir/f");
  Stat("sgdir/sub");
  Stat("sgdir/sub2");
  Res("chmod sgdir/f 02755 again", fchmodat(g_root, "sgdir/f", 02755, 0));
  Stat("sgdir/f");
  // sticky
  Res("mkdir st 01777", mkdirat(g_root, "st", 0777));
  Res("chmod st 01777", fchmodat(g_root, "st", 01777, 0));
  Stat("st");
  Res("unlink sticky root file", unlinkat(g_root, "sticky/rootowned", 0));
  Res("rename sticky root file", renameat(g_root, "sticky/rootowned", g_root, "sticky/x"));
}

void Links() {
  Out("== links");
  int fd = OpenAt("l1", O_CREAT | O_WRONLY, 0644);
  Res("write l1", write(fd, "link data", 9));
  close(fd);
  Res("symlink s1 -> l1", symlinkat("l1", g_root, "s1"));
  Res("symlink dangling", symlinkat("/nonexistent/target", g_root, "s2"));
  Res("symlink exists", symlinkat("l1", g_root, "s1"));
  char buf[256] = {};
  Res("readlink s1", readlinkat(g_root, "s1", buf, sizeof buf));
  Out("  target " + Quote(buf));
  Res("readlink l1 (file)", readlinkat(g_root, "l1", buf, sizeof buf));
  Stat("s1");
  Res("open s1 nofollow", OpenAt("s1", O_RDONLY | O_NOFOLLOW));
  Content("l1");
  fd = OpenAt("s1", O_RDONLY);
  Res("open via symlink", fd >= 0 ? 0 : -1);
  close(fd);
  Res("open dangling", OpenAt("s2", O_RDONLY));
  Res("link l1 h1", linkat(g_root, "l1", g_root, "h1", 0));
  Stat("l1");
  Stat("h1");
  Res("link exists", linkat(g_root, "l1", g_root, "h1", 0));
  Res("link dir", linkat(g_root, "d", g_root, "dlink", 0));
  Res("link symlink", linkat(g_root, "s1", g_root, "s1link", 0));
  Stat("s1link");
  Res("unlink l1", unlinkat(g_root, "l1", 0));
  Stat("h1");
  Content("h1");
  Res("unlink missing", unlinkat(g_root, "l1", 0));
  Res("fchownat symlink nofollow",
      fchownat(g_root, "s1", geteuid(), getegid(), AT_SYMLINK_NOFOLLOW));
  struct timespec ts[2] = {{1000000000, 0}, {1000000001, 0}};
  Res("utimensat symlink nofollow", utimensat(g_root, "s1", ts, AT_SYMLINK_NOFOLLOW));
  Stat("s1", true);
}

void Renames() {
  Out("== renames");
  for (const char* n : {"r1", "r2", "r3"}) {
    int fd = OpenAt(n, O_CREAT | O_WRONLY, 0644);
    Res(std::string("write ") + n, write(fd, n, 2));
    close(fd);
  }
  Res("rename r1 r4", renameat(g_root, "r1", g_root, "r4"));
  Res("rename r4 over r2", renameat(g_root, "r4", g_root, "r2"));
  Content("r2");
  Res("rename noreplace r2 r3", renameat2(g_root, "r2", g_root, "r3", RENAME_NOREPLACE));
  Res("rename noreplace r2 r5", renameat2(g_root, "r2", g_root, "r5", RENAME_NOREPLACE));
  Res("rename exchange r5 r3", renameat2(g_root, "r5", g_root, "r3", RENAME_EXCHANGE));
  Content("r3");
  Content("r5");
  Res("rename exchange r5 missing", renameat2(g_root, "r5", g_root, "zz", RENAME_EXCHANGE));
  Res("mkdir rd1", mkdirat(g_root, "rd1", 0755));
  Res("mkdir rd2", mkdirat(g_root, "rd2", 0755));
  Res("mkdir rd2/x", mkdirat(g_root, "rd2/x", 0755));
  Res("rename rd1 over nonempty rd2", renameat(g_root, "rd1", g_root, "rd2"));
  Res("rename file over dir", renameat(g_root, "r3", g_root, "rd1"));
  Res("rename dir over file", renameat(g_root, "rd1", g_root, "r3"));
  Res("rename dir into itself", renameat(g_root, "rd2", g_root, "rd2/x/y"));
  Res("rename r3 into rd2", renameat(g_root, "r3", g_root, "rd2/r3"));
  Res("rename exchange file<->dir", renameat2(g_root, "r5", g_root, "rd1", RENAME_EXCHANGE));
  Stat("r5");
  Stat("rd1");
  Res("rename missing", renameat(g_root, "nothere", g_root, "x"));
  Res("rename whiteout", renameat2(g_root, "rd2/r3", g_root, "rw", RENAME_WHITEOUT));
  List("rd2");
  Stat("rd2/r3");
}

void Special() {
  Out("== special");
  Res("mkfifo", mknodat(g_root, "fifo", S_IFIFO | 0640, 0));
  Stat("fifo");
  Res("mknod socket", mknodat(g_root, "sock", S_IFSOCK | 0600, 0));
  Stat("sock");
  Res("mknod chr 1:3", mknodat(g_root, "null", S_IFCHR | 0666, makedev(1, 3)));
  Stat("null");
  Res("mknod blk 7:0", mknodat(g_root, "blk", S_IFBLK | 0600, makedev(7, 0)));
  Res("mknod regular", mknodat(g_root, "mkreg", S_IFREG | 0600, 0));
  Stat("mkreg");
  int fd = OpenAt("null", O_WRONLY);
  if (fd >= 0) {
    Res("write to device", write(fd, "x", 1));
    close(fd);
  }
}

void Xattrs() {
  Out("== xattrs");
  int fd = OpenAt("x1", O_CREAT | O_WRONLY, 0644);
  close(fd);
  std::string p = "/proc/self/fd/" + std::to_string(g_root) + "/x1";
  Res("setxattr user.a", setxattr(p.c_str(), "user.a", "va", 2, 0));
  Res("setxattr user.a create", setxattr(p.c_str(), "user.a", "vb", 2, XATTR_CREATE));
  Res("setxattr user.b replace missing", setxattr(p.c_str(), "user.b", "vb", 2, XATTR_REPLACE));
  Res("setxattr user.b", setxattr(p.c_str(), "user.b", "value-b", 7, 0));
  char buf[256] = {};
  Res("getxattr user.a", getxattr(p.c_str(), "user.a", buf, sizeof buf));
  Out("  value " + Quote(buf));
  Res("getxattr size query", getxattr(p.c_str(), "user.b", nullptr, 0));
  Res("getxattr too small", getxattr(p.c_str(), "user.b", buf, 2));
  Res("getxattr missing", getxattr(p.c_str(), "user.zz", buf, sizeof buf));
  ssize_t n = Res("listxattr", listxattr(p.c_str(), buf, sizeof buf));
  std::vector<std::string> names;
  for (ssize_t i = 0; i < n; i += strlen(buf + i) + 1) names.emplace_back(buf + i);
  std::sort(names.begin(), names.end());
  std::string s = "  names:";
  for (auto& x : names) s += " " + x;
  Out(s);
  Res("removexattr user.a", removexattr(p.c_str(), "user.a"));
  Res("removexattr user.a again", removexattr(p.c_str(), "user.a"));
  Res("setxattr trusted.t", setxattr(p.c_str(), "trusted.t", "t", 1, 0));
  std::string rp = "/proc/self/fd/" + std::to_string(g_root) + "/rootfile";
  Res("setxattr on root-owned", setxattr(rp.c_str(), "user.c", "c", 1, 0));
  std::string sp = "/proc/self/fd/" + std::to_string(g_root) + "/s1";
  Res("lsetxattr user on symlink", lsetxattr(sp.c_str(), "user.s", "s", 1, 0));
  Res("lgetxattr on symlink", lgetxattr(sp.c_str(), "user.s", buf, sizeof buf));
  // Names that the kernel does not answer itself for a symlink reach the daemon: what `ls -l`
  // (security.selinux, system.posix_acl_access), `getfattr -h` and `getcap` ask. xs -> x1.
  Res("symlink xs -> x1", symlinkat("x1", g_root, "xs"));
  std::string xs = "/proc/self/fd/" + std::to_string(g_root) + "/xs";
  Res("lgetxattr security.selinux on symlink",
      lgetxattr(xs.c_str(), "security.selinux", buf, sizeof buf));
  Res("lgetxattr posix_acl_access on symlink",
      lgetxattr(xs.c_str(), "system.posix_acl_access", buf, sizeof buf));
  Res("lgetxattr security.capability on symlink",
      lgetxattr(xs.c_str(), "security.capability", nullptr, 0));
  Res("llistxattr on symlink", llistxattr(xs.c_str(), buf, sizeof buf));
  Res("lsetxattr trusted on symlink", lsetxattr(xs.c_str(), "trusted.l", "link", 4, 0));
  std::memset(buf, 0, sizeof buf);
  Res("lgetxattr trusted on symlink", lgetxattr(xs.c_str(), "trusted.l", buf, sizeof buf));
  Out("  value " + Quote(buf));
  n = Res("llistxattr on symlink after set", llistxattr(xs.c_str(), buf, sizeof buf));
  names.clear();
  for (ssize_t i = 0; i < n; i += strlen(buf + i) + 1) names.emplace_back(buf + i);
  std::sort(names.begin(), names.end());
  s = "  names:";
  for (auto& x : names) s += " " + x;
  Out(s);
  // The target keeps its own attributes: the calls above acted on the link, these on x1.
  Res("getxattr trusted.l through symlink", getxattr(xs.c_str(), "trusted.l", buf, sizeof buf));
  Res("getxattr trusted.t through symlink", getxattr(xs.c_str(), "trusted.t", buf, sizeof buf));
  Res("lremovexattr trusted on symlink", lremovexattr(xs.c_str(), "trusted.l"));
  Res("lremovexattr trusted on symlink again", lremovexattr(xs.c_str(), "trusted.l"));
}

std::string Hex(unsigned long v) {
  char b[24];
  std::snprintf(b, sizeof b, "%#lx", v);
  return b;
}

// Inode flags (lsattr/chattr: FS_IOC_GETFLAGS/SETFLAGS, FS_IOC_FSGETXATTR/FSSETXATTR) and the
// isatty probe (TCGETS) that every opened file gets from python3 and stdio.
void Ioctls() {
  Out("== ioctls");
  int fd = OpenAt("io", O_CREAT | O_RDWR, 0644);
  struct termios tio;
  Res("TCGETS on a file", ioctl(fd, TCGETS, &tio));
  Res("isatty", isatty(fd) ? 0 : -1);
  Res("unknown ioctl", ioctl(fd, _IO('z', 99), 0));
  int flags = 0;
  Res("FS_IOC_GETFLAGS", ioctl(fd, FS_IOC_GETFLAGS, &flags));
  Out("  flags " + Hex(static_cast<unsigned>(flags)));
  int base = flags;
  flags = base | FS_NOATIME_FL;
  Res("FS_IOC_SETFLAGS +A", ioctl(fd, FS_IOC_SETFLAGS, &flags));
  flags = 0;
  Res("FS_IOC_GETFLAGS", ioctl(fd, FS_IOC_GETFLAGS, &flags));
  Out("  flags " + Hex(static_cast<unsigned>(flags)));
  flags = base | FS_APPEND_FL;
  Res("FS_IOC_SETFLAGS +a", ioctl(fd, FS_IOC_SETFLAGS, &flags));
  Res("pwrite @0 append-only", pwrite(fd, "x", 1, 0));
  Res("open O_WRONLY append-only", OpenAt("io", O_WRONLY));
  int afd = OpenAt("io", O_WRONLY | O_APPEND);
  Res("open O_APPEND append-only", afd);
  if (afd >= 0) {
    Res("append", write(afd, "y", 1));
    close(afd);
  }
  flags = base;
  Res("FS_IOC_SETFLAGS clear", ioctl(fd, FS_IOC_SETFLAGS, &flags));
  Stat("io");
  struct fsxattr fa {};
  Res("FS_IOC_FSGETXATTR", ioctl(fd, FS_IOC_FSGETXATTR, &fa));
  Out("  xflags " + Hex(fa.fsx_xflags) + " extsize " + std::to_string(fa.fsx_extsize) +
      " projid " + std::to_string(fa.fsx_projid));
  fa.fsx_xflags |= FS_XFLAG_NODUMP;
  Res("FS_IOC_FSSETXATTR nodump", ioctl(fd, FS_IOC_FSSETXATTR, &fa));
  fa = {};
  Res("FS_IOC_FSGETXATTR", ioctl(fd, FS_IOC_FSGETXATTR, &fa));
  Out("  xflags " + Hex(fa.fsx_xflags));
  flags = 0;
  Res("FS_IOC_GETFLAGS", ioctl(fd, FS_IOC_GETFLAGS, &flags));
  Out("  flags " + Hex(static_cast<unsigned>(flags)));
  fa.fsx_xflags &= ~FS_XFLAG_NODUMP;
  Res("FS_IOC_FSSETXATTR clear", ioctl(fd, FS_IOC_FSSETXATTR, &fa));
  close(fd);
  // Someone else's file (root-owned): flags are the owner's to change.
  int rfd = OpenAt("rootfile", O_RDONLY);
  if (rfd >= 0) {
    flags = 0;
    Res("FS_IOC_GETFLAGS rootfile", ioctl(rfd, FS_IOC_GETFLAGS, &flags));
    flags |= FS_NOATIME_FL;
    Res("FS_IOC_SETFLAGS +A rootfile", ioctl(rfd, FS_IOC_SETFLAGS, &flags));
    flags &= ~FS_NOATIME_FL;
    ioctl(rfd, FS_IOC_SETFLAGS, &flags);
    close(rfd);
  }
  int dfd = OpenAt(".", O_RDONLY | O_DIRECTORY);
  flags = 0;
  Res("FS_IOC_GETFLAGS directory", ioctl(dfd, FS_IOC_GETFLAGS, &flags));
  Out("  flags " + Hex(static_cast<unsigned>(flags)));
  close(dfd);
}

void Data() {
  Out("== data");
  int fd = OpenAt("sp", O_CREAT | O_RDWR, 0644);
  Res("fallocate 1MiB", fallocate(fd, 0, 0, 1 << 20));
  Stat("sp");
  Res("fallocate keep size", fallocate(fd, FALLOC_FL_KEEP_SIZE, 1 << 20, 1 << 20));
  Stat("sp");
  std::string block(4096, 'D');
  Res("pwrite @256K", pwrite(fd, block.data(), block.size(), 256 * 1024));
  Res("punch hole 0..256K",
      fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 256 * 1024));
  Res("seek data from 0", lseek(fd, 0, SEEK_DATA) == 256 * 1024 ? 0 : -1);
  Out("  data at " + std::to_string(lseek(fd, 0, SEEK_DATA)) + " hole at " +
      std::to_string(lseek(fd, 256 * 1024, SEEK_HOLE)));
  Res("seek data past end", lseek(fd, 4 << 20, SEEK_DATA));
  Res("fallocate bad mode", fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 4096));
  Content("sp");
  int out = OpenAt("cfr", O_CREAT | O_RDWR, 0644);
  loff_t in_off = 256 * 1024, out_off = 10;
  Res("copy_file_range 4096", copy_file_range(fd, &in_off, out, &out_off, 4096, 0));
  Content("cfr");
  Res("fsync", fsync(out));
  Res("fdatasync", fdatasync(out));
  close(out);
  close(fd);

  // mmap write then read through read(2).
  fd = OpenAt("mm", O_CREAT | O_RDWR, 0644);
  Res("ftruncate mm 8192", ftruncate(fd, 8192));
  void* m = mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m != MAP_FAILED) {
    std::memcpy(static_cast<char*>(m) + 4090, "MMAPPED", 7);
    Res("msync", msync(m, 8192, MS_SYNC));
    munmap(m, 8192);
  }
  close(fd);
  Content("mm");
  int dfd = OpenAt(".", O_RDONLY | O_DIRECTORY);
  Res("fsync dir", fsync(dfd));
  close(dfd);
}

void Locks() {
  Out("== locks");
  int fd = OpenAt("lk", O_CREAT | O_RDWR, 0644);
  struct flock fl = {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 10;
  Res("setlk wr 0..10", fcntl(fd, F_SETLK, &fl));
  Res("flock ex", flock(fd, LOCK_EX | LOCK_NB));
  pid_t pid = fork();
  if (pid == 0) {
    int fd2 = OpenAt("lk", O_RDWR);
    struct flock g = {};
    g.l_type = F_WRLCK;
    g.l_whence = SEEK_SET;
    g.l_start = 5;
    g.l_len = 1;
    int rc = fcntl(fd2, F_GETLK, &g);
    int conflict = (rc == 0 && g.l_type == F_WRLCK && g.l_pid == getppid()) ? 1 : 0;
    struct flock s = g;
    s.l_type = F_WRLCK;
    s.l_start = 5;
    s.l_len = 1;
    int setrc = fcntl(fd2, F_SETLK, &s) == 0 ? 0 : errno;
    int flrc = flock(fd2, LOCK_EX | LOCK_NB) == 0 ? 0 : errno;
    _exit(conflict * 100 + (setrc == EAGAIN || setrc == EACCES ? 10 : 0) +
          (flrc == EWOULDBLOCK ? 1 : 0));
  }
  int status = 0;
  waitpid(pid, &status, 0);
  Out("  child sees: " + std::to_string(WEXITSTATUS(status)) +
      " (111 = getlk/setlk/flock conflicts)");
  close(fd);
}

void Names() {
  Out("== hostile names");
  std::vector<std::string> names = {"new\nline",         "with spaces  ", "-leading-dash",
                                    "\xff\xfe\x80latin", "tab\there",     std::string(255, 'n'),
                                    "'quote\"",          "*glob?[x]"};
  for (const auto& n : names) {
    int fd =
        static_cast<int>(Res("create " + Quote(n), OpenAt(n, O_CREAT | O_EXCL | O_WRONLY, 0644)));
    if (fd >= 0) {
      Res("write", write(fd, n.data(), std::min<size_t>(n.size(), 8)));
      close(fd);
    }
    Stat(n);
    Content(n);
    std::string r = n + "_r";
    if (r.size() > 255) r = n.substr(0, 250) + "_r";
    Res("rename", renameat(g_root, n.c_str(), g_root, r.c_str()));
    Res("mkdir " + Quote(n), mkdirat(g_root, n.c_str(), 0755));
    Res("symlink to it", symlinkat(r.c_str(), g_root, (n.substr(0, 200) + "_s").c_str()));
  }
  Res("create 256-byte name", OpenAt(std::string(256, 'x'), O_CREAT | O_WRONLY, 0644));
  Res("mkdir 256-byte name", mkdirat(g_root, std::string(256, 'y').c_str(), 0755));
  List(".");
  for (const auto& n : names) {
    std::string r = n + "_r";
    if (r.size() > 255) r = n.substr(0, 250) + "_r";
    Res("unlink", unlinkat(g_root, r.c_str(), 0));
    Res("rmdir", unlinkat(g_root, n.c_str(), AT_REMOVEDIR));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fs_posix_ops DIR\n");
    return 2;
  }
  g_root = open(argv[1], O_RDONLY | O_DIRECTORY);
  if (g_root < 0) {
    std::perror(argv[1]);
    return 2;
  }
  umask(022);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  Out("uid=" + std::to_string(geteuid()) + " gid=" + std::to_string(getegid()));
  List(".");
  Files();
  Attrs();
  Dirs();
  Links();
  Renames();
  Special();
  Xattrs();
  Ioctls();
  Data();
  Locks();
  Names();
  List(".");
  return 0;
}
