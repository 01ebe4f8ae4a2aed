// Bounded, streaming gzip decompression for request bodies (OTLP/HTTP
// Content-Encoding: gzip, and gzip-compressed OTLP/gRPC messages).
//
// Contract: GunzipWithLimit inflates `in` (one or more gzip members, RFC 1952)
// into `out` and stops as soon as the output would exceed `limit`, so a gzip
// bomb costs at most `limit` bytes of memory. ResourceExhausted when the
// output exceeds the limit; InvalidArgument when the input is not valid gzip
// (bad header or checksum, truncated, trailing garbage, empty). `out` is
// cleared on entry and left empty on error; its capacity is reused.
//
// Thread-safety: thread-safe (no shared state).
// Cost: O(output), zlib inflate in 32 KiB steps; memory at most `limit` plus
// zlib's ~44 KiB state.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace propwatch::receiver {

absl::Status GunzipWithLimit(std::string_view in, size_t limit, std::string* out);

// True when `data` starts with the gzip magic bytes (1f 8b).
inline bool LooksGzipped(std::string_view data) {
  return data.size() >= 2 && data[0] == '\x1f' && data[1] == '\x8b';
}

}  // namespace propwatch::receiver
