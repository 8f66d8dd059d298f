// ReadVerified (policy/enforcer.h): block-aligned reads for verify=blocks.
#include <sys/uio.h>

#include <cerrno>

#include "policy/enforcer.h"

namespace dfs {

Status ReadVerified(Gate& gate, const OpenTicket& ticket, int fd, uint64_t offset, size_t size,
                    ByteBuffer* buf, size_t* start, size_t* len, bool nowait) {
  const OpenTicket* one[] = {&ticket};
  return ReadVerified(gate, one, fd, offset, size, buf, start, len, nowait);
}

Status ReadVerified(Gate& gate, std::span<const OpenTicket* const> tickets, int fd,
                    uint64_t offset, size_t size, ByteBuffer* buf, size_t* start, size_t* len,
                    bool nowait) {
  if (tickets.empty()) return Status(Code::kInternal, "a verified read without a ticket");
  const uint64_t bs = kVerifyBlockSize;
  const uint64_t aoff = offset - offset % bs;
  const uint64_t aend = (offset + size + bs - 1) / bs * bs;
  buf->resize(static_cast<size_t>(aend - aoff));
  size_t n = 0;
  while (n < buf->size()) {
    struct iovec iov = {buf->data() + n, buf->size() - n};
    ssize_t r = ::preadv2(fd, &iov, 1, static_cast<off_t>(aoff + n), nowait ? RWF_NOWAIT : 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (nowait && errno == EAGAIN) {
        return Status(Code::kUnavailable, "the lower file's pages are not all cached", EAGAIN);
      }
      return Status::FromErrno(errno, "reading the lower file");
    }
    if (r == 0) break;
    n += static_cast<size_t>(r);
  }
  for (const OpenTicket* t : tickets) {
    DFS_RETURN_IF_ERROR(gate.CheckRead(*t, aoff, std::span<const uint8_t>(buf->data(), n)));
  }
  *start = static_cast<size_t>(offset - aoff);
  *len = n > *start ? std::min(size, n - *start) : 0;
  return Status::Ok();
}

}  // namespace dfs
