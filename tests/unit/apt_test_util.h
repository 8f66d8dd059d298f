// tests/unit/apt_test_util.h: crafting Debian archives for the apt/ tests: .deb files (ar + tar,
// written with libarchive so that any member name can be made, unsafe ones included), Packages and
// Release texts, and throwaway OpenPGP keys in a GnuPG home of the test's own.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "common/digest.h"
#include "crypto/hash.h"

namespace dfs::apt::testing {

struct TarMember {
  std::string name;
  std::string content;
  unsigned mode = 0644;
  char type = 'f';   // 'f' file, 'd' directory, 'l' symlink (content = target), 'h' hard link
  std::string link;  // hard link target ('h')
};

inline std::string Tar(const std::vector<TarMember>& members, const std::string& compression) {
  struct archive* a = archive_write_new();
  archive_write_set_format_gnutar(a);
  if (compression == "xz") archive_write_add_filter_xz(a);
  if (compression == "gz") archive_write_add_filter_gzip(a);
  if (compression == "zst") archive_write_add_filter_zstd(a);
  std::vector<char> buf(32u << 20);
  size_t used = 0;
  archive_write_open_memory(a, buf.data(), buf.size(), &used);
  for (const TarMember& m : members) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, m.name.c_str());
    archive_entry_set_mtime(e, 1700000000, 0);
    if (m.type == 'd') {
      archive_entry_set_filetype(e, AE_IFDIR);
      archive_entry_set_perm(e, 0755);
    } else if (m.type == 'l') {
      archive_entry_set_filetype(e, AE_IFLNK);
      archive_entry_set_symlink(e, m.content.c_str());
      archive_entry_set_perm(e, 0777);
    } else if (m.type == 'h') {
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_hardlink(e, m.link.c_str());
      archive_entry_set_perm(e, m.mode);
    } else {
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_perm(e, m.mode);
      archive_entry_set_size(e, static_cast<la_int64_t>(m.content.size()));
    }
    archive_write_header(a, e);
    if (m.type == 'f') archive_write_data(a, m.content.data(), m.content.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return std::string(buf.data(), used);
}

// An ar archive (the common format dpkg-deb writes).
inline std::string Ar(const std::vector<std::pair<std::string, std::string>>& members) {
  std::string out = "!<arch>\n";
  for (const auto& [name, data] : members) {
    char hdr[61];
    std::snprintf(hdr, sizeof hdr, "%-16s%-12s%-6s%-6s%-8s%-10zu`\n", name.c_str(), "1700000000",
                  "0", "0", "100644", data.size());
    out.append(hdr, 60);
    out += data;
    if (data.size() % 2) out += '\n';
  }
  return out;
}

struct DebSpec {
  std::string package = "hello", version = "1.0-1", arch = "amd64";
  std::string control_extra;  // more control fields, each line ending in \n
  std::vector<TarMember> data = {
      {"./", "", 0755, 'd'},         {"./usr/", "", 0755, 'd'},
      {"./usr/bin/", "", 0755, 'd'}, {"./usr/bin/hello", "#!/bin/sh\necho hello\n", 0755},
      {"./etc/", "", 0755, 'd'},     {"./etc/hello.conf", "greeting=hi\n", 0644}};
  std::vector<TarMember> control_members = {{"./postinst", "#!/bin/sh\necho configured\n", 0755},
                                            {"./conffiles", "/etc/hello.conf\n", 0644},
                                            {"./md5sums", "0123  usr/bin/hello\n", 0644}};
  std::string control_compression = "xz", data_compression = "xz";
};

inline std::string ControlText(const DebSpec& s) {
  return "Package: " + s.package + "\nVersion: " + s.version + "\nArchitecture: " + s.arch +
         "\nMaintainer: Test <t@example.org>\n" + s.control_extra +
         "Description: a test package\n a longer description\n .\n with a paragraph\n";
}

inline std::string Deb(const DebSpec& s) {
  std::vector<TarMember> control = {{"./", "", 0755, 'd'}, {"./control", ControlText(s), 0644}};
  control.insert(control.end(), s.control_members.begin(), s.control_members.end());
  auto sfx = [](const std::string& c) { return c.empty() ? std::string() : "." + c; };
  return Ar({{"debian-binary", "2.0\n"},
             {"control.tar" + sfx(s.control_compression), Tar(control, s.control_compression)},
             {"data.tar" + sfx(s.data_compression), Tar(s.data, s.data_compression)}});
}

inline std::string Sha256Hex(const std::string& s) {
  return HashBytes(HashAlgo::kSha256, s)->Hex();
}

// A Packages stanza for a .deb's bytes.
inline std::string PackagesStanza(const DebSpec& s, const std::string& deb,
                                  const std::string& filename) {
  return "Package: " + s.package + "\nVersion: " + s.version + "\nArchitecture: " + s.arch +
         "\nMaintainer: Test <t@example.org>\nFilename: " + filename +
         "\nSize: " + std::to_string(deb.size()) + "\nSHA256: " + Sha256Hex(deb) +
         "\nDescription: a test package\n continued\n .\n more\n";
}

inline std::string ReleaseText(const std::map<std::string, std::string>& files,
                               const std::string& extra = "") {
  std::string t =
      "Origin: Test\nLabel: Test\nSuite: stable\nCodename: test\n"
      "Date: Sat, 11 Jul 2026 10:16:37 UTC\n" +
      extra +
      "Architectures: amd64\n"
      "Components: main\nMD5Sum:\n 00000000000000000000000000000000 1 main/x\nSHA256:\n";
  for (const auto& [path, content] : files) {
    t += " " + Sha256Hex(content) + " " + std::to_string(content.size()) + " " + path + "\n";
  }
  return t;
}

inline bool WriteFile(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << data;
  return static_cast<bool>(f);
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A GnuPG home with throwaway keys: "good" (the store's key), "other" (not in the store) and
// "old" (expired: made in 2020, valid one day).
class Gpg {
 public:
  explicit Gpg(std::string home) : home_(std::move(home)) {
    ::mkdir(home_.c_str(), 0700);
    ok_ = Gen("good", "") && Gen("other", "") &&
          Gen("old", "--faked-system-time 20200101T000000! ", "1d");
  }
  ~Gpg() {
    std::string cmd = "gpgconf --homedir " + home_ + " --kill all >/dev/null 2>&1";
    (void)std::system(cmd.c_str());
  }
  bool ok() const { return ok_; }
  // Binary public key of `who`.
  std::string PublicKey(const std::string& who) {
    std::string out = home_ + "/" + who + ".pub";
    Run("--export " + who + "@test > " + out);
    return ReadFile(out);
  }
  // Clearsigns / detach-signs `text` with `who`'s key. The expired key signs at its own time.
  std::string Clearsign(const std::string& text, const std::string& who) {
    return Sign(text, who, "--clearsign");
  }
  std::string Detach(const std::string& text, const std::string& who) {
    return Sign(text, who, "--armor --detach-sign");
  }
  const std::string& home() const { return home_; }

 private:
  bool Run(const std::string& args) {
    std::string cmd = "GNUPGHOME=" + home_ +
                      " gpg --batch --quiet --pinentry-mode loopback "
                      "--passphrase '' " +
                      args + " 2>/dev/null";
    return std::system(cmd.c_str()) == 0;
  }
  bool Gen(const std::string& who, const std::string& time, const std::string& expire = "never") {
    return Run(time + "--quick-gen-key '" + who + " <" + who + "@test>' ed25519 sign " + expire);
  }
  std::string Sign(const std::string& text, const std::string& who, const std::string& how) {
    std::string in = home_ + "/in.txt", out = home_ + "/out.asc";
    WriteFile(in, text);
    ::unlink(out.c_str());
    std::string t = who == "old" ? "--faked-system-time 20200101T120000! " : "";
    Run(t + "--digest-algo SHA256 --local-user " + who + "@test " + how + " -o " + out + " " + in);
    return ReadFile(out);
  }
  std::string home_;
  bool ok_ = false;
};

}  // namespace dfs::apt::testing
