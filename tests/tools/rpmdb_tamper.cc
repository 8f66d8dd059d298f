// rpmdb_tamper ROOT DBPATH PACKAGE FILE HEX: test helper that plays an attacker who controls a root
// tree's rpm database. It rewrites the installed header of PACKAGE so that FILE's entry in
// FILEDIGESTS reads HEX, keeping the signed immutable region and the header signature: librpm
// stores the changed tag as a "dribble" entry after the region, which replaces the region's value
// whenever the header is loaded. Exit 0 when the header was rewritten, 1 otherwise (message on
// stderr).
#include <fcntl.h>
#include <rpm/header.h>
#include <rpm/rpmdb.h>
#include <rpm/rpmlib.h>
#include <rpm/rpmmacro.h>
#include <rpm/rpmtd.h>
#include <rpm/rpmts.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: %s ROOT DBPATH PACKAGE FILE HEX\n", argv[0]);
    return 2;
  }
  const std::string root = argv[1], pkg = argv[3], file = argv[4], hex = argv[5];
  if (rpmReadConfigFiles(nullptr, nullptr) != 0) {
    fprintf(stderr, "rpm configuration cannot be read\n");
    return 1;
  }
  rpmPushMacro(nullptr, "_dbpath", nullptr, argv[2], RMIL_CMDLINE);
  rpmts ts = rpmtsCreate();
  int rc = 1;
  rpmtsSetRootDir(ts, root.c_str());
  rpmtsSetVSFlags(ts, RPMVSF_MASK_NODIGESTS | RPMVSF_MASK_NOSIGNATURES);
  if (rpmtsOpenDB(ts, O_RDWR) != 0) {
    fprintf(stderr, "cannot open the rpm database under %s\n", root.c_str());
    rpmtsFree(ts);
    return 1;
  }
  rpmdbMatchIterator mi = rpmtsInitIterator(ts, RPMDBI_NAME, pkg.c_str(), 0);
  rpmdbSetIteratorRewrite(mi, 1);
  while (Header h = rpmdbNextIterator(mi)) {
    rpmtd_s names, digests;
    if (headerGet(h, RPMTAG_FILENAMES, &names, HEADERGET_EXT | HEADERGET_ALLOC) != 1) continue;
    if (headerGet(h, RPMTAG_FILEDIGESTS, &digests, HEADERGET_ALLOC) != 1) {
      rpmtdFreeData(&names);
      continue;
    }
    std::vector<std::string> vals;
    bool found = false;
    while (const char* n = rpmtdNextString(&names)) {
      const char* d = rpmtdNextString(&digests);
      bool hit = file == n;
      found |= hit;
      vals.emplace_back(hit ? hex : (d ? d : ""));
    }
    rpmtdFreeData(&names);
    rpmtdFreeData(&digests);
    if (!found) continue;
    std::vector<const char*> ptrs;
    for (const auto& v : vals) ptrs.push_back(v.c_str());
    rpmtd_s nt;
    rpmtdReset(&nt);
    nt.tag = RPMTAG_FILEDIGESTS;
    nt.type = RPM_STRING_ARRAY_TYPE;
    nt.data = ptrs.data();
    nt.count = static_cast<rpm_count_t>(ptrs.size());
    if (headerMod(h, &nt) != 1) {
      fprintf(stderr, "headerMod failed\n");
      break;
    }
    rpmdbSetIteratorModified(mi, 1);  // written back when the iterator moves on or is freed
    rc = 0;
    break;
  }
  rpmdbFreeIterator(mi);
  rpmtsCloseDB(ts);
  rpmtsFree(ts);
  if (rc != 0)
    fprintf(stderr, "%s with file %s not found or not changed\n", pkg.c_str(), file.c_str());
  return rc;
}
