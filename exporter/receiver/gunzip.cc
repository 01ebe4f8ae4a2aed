#include "exporter/receiver/gunzip.h"

#include <zlib.h>

#include <algorithm>
#include <climits>

#include "absl/strings/str_cat.h"

namespace propwatch::receiver {

absl::Status GunzipWithLimit(std::string_view in, size_t limit, std::string* out) {
  out->clear();
  z_stream zs{};
  // 16 + MAX_WBITS: gzip wrapper only (no zlib, no raw deflate).
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
    return absl::InternalError("zlib inflateInit2 failed");
  }
  struct End {
    z_stream* zs;
    ~End() { inflateEnd(zs); }
  } end{&zs};

  char chunk[32 * 1024];
  size_t consumed = 0;  // input handed to zlib so far
  auto feed = [&] {
    // avail_in is 32-bit: feed large inputs in pieces.
    if (zs.avail_in == 0 && consumed < in.size()) {
      const size_t n = std::min<size_t>(in.size() - consumed, UINT_MAX);
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + consumed));
      zs.avail_in = static_cast<uInt>(n);
      consumed += n;
    }
  };
  auto input_left = [&] { return zs.avail_in != 0 || consumed < in.size(); };
  if (in.empty()) return absl::InvalidArgumentError("empty gzip body");
  for (;;) {
    feed();
    zs.next_out = reinterpret_cast<Bytef*>(chunk);
    zs.avail_out = sizeof(chunk);
    const int rc = inflate(&zs, Z_NO_FLUSH);
    const size_t produced = sizeof(chunk) - zs.avail_out;
    if (produced > limit - out->size()) {
      out->clear();
      return absl::ResourceExhaustedError(
          absl::StrCat("decompressed body exceeds the limit of ", limit, " bytes"));
    }
    out->append(chunk, produced);
    switch (rc) {
      case Z_OK:
        break;
      case Z_STREAM_END:
        if (!input_left()) return absl::OkStatus();
        // Another gzip member follows (RFC 1952 allows several).
        if (inflateReset(&zs) != Z_OK) return absl::InternalError("zlib inflateReset failed");
        break;
      case Z_BUF_ERROR:
        // No progress possible: out of input before the end of the stream.
        if (!input_left()) {
          out->clear();
          return absl::InvalidArgumentError("truncated gzip body");
        }
        break;
      default:
        out->clear();
        return absl::InvalidArgumentError(
            absl::StrCat("corrupt gzip body: ", zs.msg != nullptr ? zs.msg : "inflate failed"));
    }
  }
}

}  // namespace propwatch::receiver
