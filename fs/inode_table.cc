#include "fs/inode_table.h"

#include <vector>

namespace dfs::fs {

InodeTable::InodeTable(Fd root_fd, const struct stat& st) {
  auto root = std::make_unique<Inode>();
  root->fd = std::move(root_fd);
  root->key = {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
  root->type = st.st_mode & S_IFMT;
  root->nlookup = 2;  // never reaches zero
  root->parent = root->key;
  root->has_parent = false;
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
  if (inode != root_ && parent != nullptr) {
    inode->parent = parent->key;
    inode->name.assign(name);
    inode->has_parent = true;
  }
  return inode;
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

void InodeTable::Moved(const InodeKey& key, const Inode* newparent, std::string_view newname) {
  std::lock_guard lock(mu_);
  auto it = map_.find(key);
  if (it == map_.end() || it->second.get() == root_) return;
  it->second->parent = newparent->key;
  it->second->name.assign(newname);
  it->second->has_parent = true;
}

void InodeTable::Unlinked(const InodeKey& key, const Inode* parent, std::string_view name) {
  std::lock_guard lock(mu_);
  auto it = map_.find(key);
  if (it == map_.end()) return;
  Inode* inode = it->second.get();
  if (inode->has_parent && inode->parent == parent->key && inode->name == name) {
    inode->has_parent = false;
    inode->name.clear();
  }
}

std::optional<std::string> InodeTable::PathOf(const Inode* inode) {
  std::vector<std::string_view> parts;
  std::lock_guard lock(mu_);
  const Inode* cur = inode;
  for (int depth = 0; cur != root_; ++depth) {
    if (depth > 4096 || !cur->has_parent) return std::nullopt;
    parts.push_back(cur->name);
    auto it = map_.find(cur->parent);
    if (it == map_.end()) return std::nullopt;
    cur = it->second.get();
  }
  if (parts.empty()) return std::string("/");
  std::string path;
  for (auto p = parts.rbegin(); p != parts.rend(); ++p) {
    path += '/';
    path += *p;
  }
  return path;
}

size_t InodeTable::size() {
  std::lock_guard lock(mu_);
  return map_.size();
}

}  // namespace dfs::fs
