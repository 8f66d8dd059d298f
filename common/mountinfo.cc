#include "common/mountinfo.h"

#include <fstream>
#include <sstream>

namespace dfs {

std::string UnescapeMountinfo(std::string_view s) {
  std::string out;
  auto octal = [&](size_t j) { return s[j] >= '0' && s[j] <= '7'; };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && octal(i + 1) && octal(i + 2) && octal(i + 3)) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::optional<MountEntry> ParseMountinfoLine(const std::string& line) {
  // id parent maj:min root mountpoint options [optional fields...] - fstype source super-options
  std::istringstream ls(line);
  std::string id, parent, root, mp;
  MountEntry e;
  if (!(ls >> id >> parent >> e.majmin >> root >> mp >> e.options)) return std::nullopt;
  auto dash = line.find(" - ");
  if (dash == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(dash + 3));
  std::string source;
  if (!(rest >> e.fstype >> source)) return std::nullopt;
  e.mountpoint = UnescapeMountinfo(mp);
  e.source = UnescapeMountinfo(source);
  return e;
}

std::optional<MountEntry> FindMount(const std::string& mountpoint, std::string_view fstype) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  std::optional<MountEntry> found;
  while (std::getline(in, line)) {
    auto e = ParseMountinfoLine(line);
    if (!e || e->mountpoint != mountpoint) continue;
    if (!fstype.empty() && e->fstype != fstype) continue;
    found = std::move(e);  // later lines are mounted on top of earlier ones
  }
  return found;
}

}  // namespace dfs
