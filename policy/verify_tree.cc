#include "policy/verify_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

namespace dfs {

namespace {

struct Job {
  std::shared_ptr<Fd> dir;  // the parent directory, kept open while the job waits
  std::string name;
  std::string path;
};

// A bounded queue between the walking thread and the workers.
class JobQueue {
 public:
  explicit JobQueue(size_t cap) : cap_(cap) {}
  void Push(Job j) {
    std::unique_lock l(mu_);
    not_full_.wait(l, [&] { return q_.size() < cap_; });
    q_.push_back(std::move(j));
    not_empty_.notify_one();
  }
  std::optional<Job> Pop() {
    std::unique_lock l(mu_);
    not_empty_.wait(l, [&] { return !q_.empty() || closed_; });
    if (q_.empty()) return std::nullopt;
    Job j = std::move(q_.front());
    q_.pop_front();
    not_full_.notify_one();
    return j;
  }
  void Close() {
    std::lock_guard l(mu_);
    closed_ = true;
    not_empty_.notify_all();
  }

 private:
  const size_t cap_;
  std::mutex mu_;  // guards q_, closed_
  std::condition_variable not_full_, not_empty_;
  std::deque<Job> q_;
  bool closed_ = false;
};

struct Shared {
  std::atomic<uint64_t> files{0}, checked{0}, skipped{0}, symlinks{0}, errors{0};
  std::mutex mu;  // guards the vectors
  std::vector<TreeFinding> refused, audited;
};

std::string Join(const std::string& parent, const char* name) {
  std::string p = parent;
  p += '/';
  p += name;
  return p;
}

void AddError(Shared& sh, const std::string& path, const std::string& why) {
  sh.errors++;
  TreeFinding f;
  f.path = path;
  f.refusal = Refusal::kError;
  f.reason = why;
  std::lock_guard l(sh.mu);
  sh.refused.push_back(std::move(f));
}

void CheckFile(Enforcer& e, const VerifyTreeOptions& opts, const Job& job, Shared& sh) {
  const int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
  Fd fd(::openat(job.dir->get(), job.name.c_str(), flags | O_NOATIME));
  if (!fd && errno == EPERM) fd = Fd(::openat(job.dir->get(), job.name.c_str(), flags));
  if (!fd) {
    if (errno == ELOOP) {  // replaced by a symlink since the directory was read
      sh.symlinks++;
      return;
    }
    AddError(sh, job.path, std::string("cannot open: ") + std::strerror(errno));
    return;
  }
  OpenRequest req;
  if (::fstat(fd.get(), &req.st) != 0) {
    AddError(sh, job.path, std::string("cannot stat: ") + std::strerror(errno));
    return;
  }
  if (!S_ISREG(req.st.st_mode)) {
    sh.skipped++;
    return;
  }
  sh.files++;
  req.fd = fd.get();
  req.path = job.path;
  req.flags = O_RDONLY;
  req.uid = opts.uid;
  bool any = false;
  for (AccessOp op : {AccessOp::kRead, AccessOp::kExec}) {
    if (op == AccessOp::kExec && (req.st.st_mode & 0111) == 0) continue;
    req.op = op;
    Assessment a = e.Assess(req);
    if (!a.decision.any()) continue;
    any = true;
    TreeFinding f;
    f.path = job.path;
    f.op = op;
    if (a.content) f.digest = a.content->primary().ToString();
    constexpr int kAudit = static_cast<int>(Family::kAudit);
    if (a.refused()) {
      f.refusal = a.refusal;
      f.rule = a.refusal_rule ? a.refusal_rule->line : 0;
      f.reason = a.reason;
      if (a.refusal == Refusal::kError) sh.errors++;
      std::lock_guard l(sh.mu);
      sh.refused.push_back(std::move(f));
    } else if (a.decision.on(Family::kAudit) && !a.known[kAudit]) {
      f.rule = a.decision.of(Family::kAudit)->line;
      f.reason = a.unknown_reason;
      std::lock_guard l(sh.mu);
      sh.audited.push_back(std::move(f));
    }
  }
  if (any) sh.checked++;
}

bool FindingLess(const TreeFinding& a, const TreeFinding& b) {
  if (a.path != b.path) return a.path < b.path;
  return a.op < b.op;
}

}  // namespace

Result<TreeSummary> VerifyTree(Enforcer& e, const std::string& dir, const VerifyTreeOptions& opts) {
  const auto start = std::chrono::steady_clock::now();
  const uint64_t hashes0 = e.stats().hashes, bytes0 = e.stats().bytes_hashed;
  // DIR itself is the operator's choice and may be reached through links; nothing below it is.
  auto root = std::make_shared<Fd>(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root->valid()) return Status::FromErrno(errno, "opening directory " + dir);
  struct stat root_st;
  if (::fstat(root->get(), &root_st) != 0) return Status::FromErrno(errno, "stat " + dir);

  Shared sh;
  JobQueue queue(1024);
  std::vector<std::thread> workers;
  const int n = std::max(1, opts.threads);
  for (int i = 0; i < n; ++i) {
    workers.emplace_back([&] {
      while (auto job = queue.Pop()) CheckFile(e, opts, *job, sh);
    });
  }

  // Depth-first walk; each pending directory holds its parent open, not itself.
  struct PendingDir {
    std::shared_ptr<Fd> parent;  // null for the root
    std::string name, path;
  };
  std::vector<PendingDir> stack;
  stack.push_back({nullptr, "", opts.prefix});
  while (!stack.empty()) {
    PendingDir pd = std::move(stack.back());
    stack.pop_back();
    std::shared_ptr<Fd> dfd = root;
    if (pd.parent) {
      dfd = std::make_shared<Fd>(::openat(pd.parent->get(), pd.name.c_str(),
                                          O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!dfd->valid()) {
        if (errno == ELOOP || errno == ENOTDIR) {
          sh.symlinks++;
        } else {
          AddError(sh, pd.path, std::string("cannot open directory: ") + std::strerror(errno));
        }
        continue;
      }
      if (opts.one_file_system) {
        struct stat st;
        if (::fstat(dfd->get(), &st) == 0 && st.st_dev != root_st.st_dev) continue;
      }
    }
    int dup_fd = ::fcntl(dfd->get(), F_DUPFD_CLOEXEC, 0);
    DIR* ds = dup_fd >= 0 ? ::fdopendir(dup_fd) : nullptr;
    if (ds == nullptr) {
      if (dup_fd >= 0) ::close(dup_fd);
      AddError(sh, pd.path.empty() ? "/" : pd.path,
               std::string("cannot read directory: ") + std::strerror(errno));
      continue;
    }
    errno = 0;
    while (struct dirent* de = ::readdir(ds)) {
      const char* name = de->d_name;
      if (std::strcmp(name, ".") == 0 || std::strcmp(name, "..") == 0) continue;
      unsigned char type = de->d_type;
      if (type == DT_UNKNOWN) {
        struct stat st;
        if (::fstatat(dfd->get(), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
          AddError(sh, Join(pd.path, name), std::string("cannot stat: ") + std::strerror(errno));
          continue;
        }
        type = S_ISDIR(st.st_mode)   ? DT_DIR
               : S_ISREG(st.st_mode) ? DT_REG
               : S_ISLNK(st.st_mode) ? DT_LNK
                                     : DT_UNKNOWN;
      }
      switch (type) {
        case DT_DIR:
          stack.push_back({dfd, name, Join(pd.path, name)});
          break;
        case DT_REG:
          queue.Push({dfd, name, Join(pd.path, name)});
          break;
        case DT_LNK:
          sh.symlinks++;
          break;
        default:
          sh.skipped++;
          break;
      }
      errno = 0;
    }
    if (errno != 0) {
      AddError(sh, pd.path.empty() ? "/" : pd.path,
               std::string("reading directory: ") + std::strerror(errno));
    }
    ::closedir(ds);
  }
  queue.Close();
  for (auto& w : workers) w.join();

  TreeSummary s;
  s.files = sh.files;
  s.checked = sh.checked;
  s.skipped = sh.skipped;
  s.symlinks = sh.symlinks;
  s.errors = sh.errors;
  s.hashes = e.stats().hashes - hashes0;
  s.bytes_hashed = e.stats().bytes_hashed - bytes0;
  s.refused = std::move(sh.refused);
  s.audited = std::move(sh.audited);
  std::sort(s.refused.begin(), s.refused.end(), FindingLess);
  std::sort(s.audited.begin(), s.audited.end(), FindingLess);
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return s;
}

}  // namespace dfs
