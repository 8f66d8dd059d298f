#include "fs/inode_table.h"

#include <algorithm>
#include <vector>

namespace dfs::fs {

InodeTable::InodeTable(Fd root_fd, const struct stat& st) {
  auto root = std::make_unique<Inode>();
  root->fd = std::move(root_fd);
  root->key = {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
  root->type = st.st_mode & S_IFMT;
  root->nlookup = 2;  // never reaches zero
  root_ = root.get();
  map_.emplace(root_->key, std::move(root));
}

Inode* InodeTable::Intern(Fd fd, const struct stat& st, const Inode* parent,
                          std::string_view name) {
  InodeKey key{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
  std::lock_guard lock(mu_);
  auto it = map_.find(key);
  Inode* inode;
  if (it != map_.end()) {
    inode = it->second.get();
    // fd (a duplicate) is closed on return.
  } else {
    auto fresh = std::make_unique<Inode>();
    fresh->fd = std::move(fd);
    fresh->key = key;
    fresh->type = st.st_mode & S_IFMT;
    inode = fresh.get();
    map_.emplace(key, std::move(fresh));
  }
  ++inode->nlookup;
  if (parent != nullptr) AddNameLocked(inode, parent->key, name);
  return inode;
}

void InodeTable::AddNameLocked(Inode* inode, const InodeKey& parent, std::string_view name) {
  if (inode == root_) return;
  for (const auto& n : inode->names) {
    if (n.parent == parent && n.name == name) return;
  }
  if (inode->names.size() >= kMaxNames) {
    inode->names_unknown = true;
    return;
  }
  inode->names.push_back(Inode::Name{parent, std::string(name)});
}

void InodeTable::Linked(const InodeKey& key, const Inode* parent, std::string_view name) {
  std::lock_guard lock(mu_);
  auto it = map_.find(key);
  if (it != map_.end()) AddNameLocked(it->second.get(), parent->key, name);
}

void InodeTable::Forget(Inode* inode, uint64_t n) {
  std::unique_ptr<Inode> doomed;  // destroyed (fd closed) after the lock is released
  {
    std::lock_guard lock(mu_);
    if (inode == root_) return;
    if (n >= inode->nlookup) {
      auto it = map_.find(inode->key);
      if (it != map_.end() && it->second.get() == inode) {
        doomed = std::move(it->second);
        map_.erase(it);
      }
    } else {
      inode->nlookup -= n;
    }
  }
}

Inode* InodeTable::Find(const InodeKey& key) {
  std::lock_guard lock(mu_);
  auto it = map_.find(key);
  return it == map_.end() ? nullptr : it->second.get();
}

bool InodeTable::WithInode(const InodeKey& key, const std::function<void(Inode*)>& fn) {
  std::lock_guard lock(mu_);
  auto it = map_.find(key);
  if (it == map_.end()) return false;
  fn(it->second.get());
  return true;
}

void InodeTable::Moved(const InodeKey& key, const Inode* oldparent, std::string_view oldname,
                       const Inode* newparent, std::string_view newname) {
  std::lock_guard lock(mu_);
  auto it = map_.find(key);
  if (it == map_.end()) return;
  Inode* inode = it->second.get();
  std::erase_if(inode->names, [&](const Inode::Name& n) {
    return n.parent == oldparent->key && n.name == oldname;
  });
  AddNameLocked(inode, newparent->key, newname);
}

void InodeTable::Unlinked(const InodeKey& key, const Inode* parent, std::string_view name) {
  std::lock_guard lock(mu_);
  auto it = map_.find(key);
  if (it == map_.end()) return;
  std::erase_if(it->second->names,
                [&](const Inode::Name& n) { return n.parent == parent->key && n.name == name; });
}

bool InodeTable::DirPathLocked(const Inode* dir, std::string* out) {
  std::vector<std::string_view> parts;
  const Inode* cur = dir;
  for (int depth = 0; cur != root_; ++depth) {
    if (depth > 4096 || cur->names.empty()) return false;
    parts.push_back(cur->names.front().name);
    auto it = map_.find(cur->names.front().parent);
    if (it == map_.end()) return false;
    cur = it->second.get();
  }
  out->clear();
  for (auto p = parts.rbegin(); p != parts.rend(); ++p) {
    *out += '/';
    *out += *p;
  }
  return true;
}

InodeTable::PathSet InodeTable::Paths(const Inode* inode) {
  PathSet set;
  std::lock_guard lock(mu_);
  if (inode == root_) {
    set.paths.emplace_back("/");
    return set;
  }
  set.complete = !inode->names_unknown;
  std::string dir;
  for (const auto& n : inode->names) {
    auto it = map_.find(n.parent);
    if (it == map_.end() || !DirPathLocked(it->second.get(), &dir)) {
      set.complete = false;
      continue;
    }
    std::string path = dir + "/" + n.name;
    if (std::find(set.paths.begin(), set.paths.end(), path) == set.paths.end()) {
      set.paths.push_back(std::move(path));
    }
  }
  return set;
}

std::optional<std::string> InodeTable::PathOf(const Inode* inode) {
  PathSet set = Paths(inode);
  if (set.paths.empty()) return std::nullopt;
  return std::move(set.paths.front());
}

size_t InodeTable::size() {
  std::lock_guard lock(mu_);
  return map_.size();
}

}  // namespace dfs::fs
