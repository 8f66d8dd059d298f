// measure_tool: drives the real Measurer (measurement/measurement.h) for the integration tests.
// Measures N synthetic sources and M synthetic unknown files into a log directory, with or without
// a TPM.
//
//   measure_tool --log DIR [--tcti TCTI] [--pcr N] [--sources N] [--files M] [--twice]
//                [--all-sources] [--shuffle SEED] [--aggregate NAME] [--pause-after K --pause-file
//                F]
//                [--store DIR]
//
// Source i: name "pkg<i>-1.0-1.x86_64", blob digest sha256("blob<i>"). File j: path "/opt/u/f<j>",
// digest sha256("file<j>"). --all-sources measures the sources with MeasureAllSources (in a
// shuffled input order with --shuffle). --pause-after K creates F.ready after K measurement calls
// and waits for F.go (used to kill the TPM in the middle of a run). --store DIR takes the sources
// from a real store instead (every source, as ListSources gives them; --sources is ignored). Prints
// "measured=<ok calls> failed=<failed calls>" and each error; exits 0 if every call succeeded, 1 if
// any failed, 2 on bad usage, 3 if the measurer could not be created.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cache/store.h"
#include "crypto/hash.h"
#include "measurement/measurement.h"

namespace {

dfs::Digest Sha256(const std::string& s) { return *dfs::HashBytes(dfs::HashAlgo::kSha256, s); }

int Usage() {
  std::fprintf(stderr,
               "usage: measure_tool --log DIR [--tcti TCTI] [--pcr N] [--sources N] [--files M]\n"
               "       [--twice] [--all-sources] [--shuffle SEED] [--aggregate NAME]\n"
               "       [--pause-after K --pause-file F]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  dfs::MeasurerConfig cfg;
  cfg.log_dir.clear();
  int sources = 0, files = 0, pause_after = -1;
  bool twice = false, all = false;
  long shuffle = -1;
  std::string pause_file, aggregate, store_dir;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "--twice") {
      twice = true;
      continue;
    }
    if (a == "--all-sources") {
      all = true;
      continue;
    }
    if ((v = next()) == nullptr) return Usage();
    if (a == "--log")
      cfg.log_dir = v;
    else if (a == "--tcti")
      cfg.tcti = v;
    else if (a == "--pcr")
      cfg.pcr = static_cast<uint32_t>(std::atoi(v));
    else if (a == "--sources")
      sources = std::atoi(v);
    else if (a == "--files")
      files = std::atoi(v);
    else if (a == "--shuffle")
      shuffle = std::atol(v);
    else if (a == "--aggregate")
      aggregate = v;
    else if (a == "--pause-after")
      pause_after = std::atoi(v);
    else if (a == "--pause-file")
      pause_file = v;
    else if (a == "--store")
      store_dir = v;
    else
      return Usage();
  }
  if (cfg.log_dir.empty() || (pause_after >= 0 && pause_file.empty())) return Usage();
  if (!aggregate.empty()) {
    dfs::AggregateInfo info;
    info.source = "/srv/" + aggregate;
    info.mountpoint = "/mnt/" + aggregate;
    info.store_dir = "/var/lib/digestfs";
    info.store_generation = 1;
    info.mode = "enforce";
    cfg.aggregate = info;
  }
  auto m = dfs::CreateMeasurer(cfg);
  if (!m.ok()) {
    std::fprintf(stderr, "measure_tool: %s\n", m.status().ToString().c_str());
    return 3;
  }
  std::vector<dfs::SourceInfo> srcs;
  for (int i = 0; i < sources; ++i) {
    dfs::SourceInfo s;
    s.id = static_cast<uint64_t>(i + 1);
    s.kind = dfs::SourceKind::kRpm;
    s.name = "pkg" + std::to_string(i) + "-1.0-1.x86_64";
    s.blob_digest = Sha256("blob" + std::to_string(i));
    srcs.push_back(s);
  }
  if (!store_dir.empty()) {
    dfs::StoreOptions so;
    so.read_only = true;
    auto st = dfs::Store::Open(store_dir, so);
    if (!st.ok()) {
      std::fprintf(stderr, "measure_tool: %s\n", st.status().ToString().c_str());
      return 3;
    }
    auto list = (*st)->ListSources();
    if (!list.ok()) {
      std::fprintf(stderr, "measure_tool: %s\n", list.status().ToString().c_str());
      return 3;
    }
    srcs.clear();
    for (const auto& s : *list) {
      if (s.state == dfs::SourceState::kActive) srcs.push_back(s);
    }
  }
  if (shuffle >= 0)
    std::shuffle(srcs.begin(), srcs.end(), std::mt19937(static_cast<uint32_t>(shuffle)));

  int ok = 0, failed = 0, calls = 0;
  auto note = [&](const dfs::Status& s) {
    ++calls;
    if (s.ok()) {
      ++ok;
    } else {
      ++failed;
      std::fprintf(stderr, "measure_tool: error: %s\n", s.ToString().c_str());
    }
    if (calls == pause_after) {
      std::string ready = pause_file + ".ready", go = pause_file + ".go";
      if (FILE* f = std::fopen(ready.c_str(), "w")) std::fclose(f);
      while (access(go.c_str(), F_OK) != 0) usleep(50 * 1000);
    }
  };
  for (int round = 0; round < (twice ? 2 : 1); ++round) {
    if (all) {
      auto r = dfs::MeasureAllSources(**m, srcs);
      note(r.ok() ? dfs::Status::Ok() : r.status());
    } else {
      for (const auto& s : srcs) note((*m)->MeasureSource(s));
    }
    for (int j = 0; j < files; ++j) {
      note((*m)->MeasureFile(Sha256("file" + std::to_string(j)), "/opt/u/f" + std::to_string(j)));
    }
  }
  std::printf("measured=%d failed=%d\n", ok, failed);
  return failed == 0 ? 0 : 1;
}
