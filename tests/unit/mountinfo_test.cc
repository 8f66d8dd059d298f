#include "common/mountinfo.h"

#include <gtest/gtest.h>

namespace dfs {
namespace {

TEST(Mountinfo, ParsesALineWithOptionalFieldsAndEscapes) {
  auto e = ParseMountinfoLine(
      "85 29 0:52 / /srv/my\\040web rw,nosuid,nodev,relatime shared:41 master:1 - fuse.digestfs "
      "/var/lib/machines/w\\012eb rw,user_id=0,group_id=0,allow_other");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->majmin, "0:52");
  EXPECT_EQ(e->mountpoint, "/srv/my web");
  EXPECT_EQ(e->options, "rw,nosuid,nodev,relatime");
  EXPECT_EQ(e->fstype, "fuse.digestfs");
  EXPECT_EQ(e->source, "/var/lib/machines/w\neb");
}

TEST(Mountinfo, MalformedLinesAreRejected) {
  EXPECT_FALSE(ParseMountinfoLine("").has_value());
  EXPECT_FALSE(ParseMountinfoLine("85 29 0:52 / /mnt rw").has_value());  // no " - " part
  EXPECT_FALSE(ParseMountinfoLine("85 29 0:52 / /mnt rw - ").has_value());
  EXPECT_EQ(UnescapeMountinfo("a\\04"), "a\\04");  // a truncated escape stays as written
}

TEST(Mountinfo, FindsTheRootMount) {
  auto e = FindMount("/");
  ASSERT_TRUE(e.has_value());
  EXPECT_FALSE(e->fstype.empty());
  EXPECT_FALSE(FindMount("/", "no-such-fstype").has_value());
}

}  // namespace
}  // namespace dfs
