// fuzz/lower_watch_fuzz.cc: fs/lower_watch.h's parser of fanotify event buffers
// (ParseFanotifyEvents). The kernel writes those buffers, but the parser must never read outside
// one whatever its bytes, aligned or not: each input is parsed at offset 0 and at offset 1.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fs/lower_watch.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<char> buf(size + 1);
  for (size_t shift : {size_t{0}, size_t{1}}) {
    if (size > 0) std::memcpy(buf.data() + shift, data, size);
    size_t seen = 0;
    dfs::fs::ParseFanotifyEvents(buf.data() + shift, size, 1, [&](const dfs::fs::FanotifyEntry& e) {
      // Touch every byte the entry points at, so ASan sees any read outside the input.
      volatile unsigned char sink = 0;
      for (size_t i = 0; i < 8; ++i) sink = sink ^ e.fsid[i];
      for (size_t i = 0; i < e.handle_size; ++i) sink = sink ^ e.handle[i];
      for (char c : e.name) sink = sink ^ static_cast<unsigned char>(c);
      ++seen;
    });
    (void)seen;
  }
  return 0;
}
