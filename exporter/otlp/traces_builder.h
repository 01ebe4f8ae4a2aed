// Internal to exporter/otlp: the format-independent half of the OTLP trace
// decoders. Both the protobuf and the JSON decoder walk their input and feed
// resources, spans, links and attributes to a TracesBuilder, which validates
// span contexts, applies the attribute rules and fills a DecodedTraces.
//
// Not thread-safe (one builder per decode); no allocation beyond growing the
// DecodedTraces buffers; every call is O(1) except EndResource/Finish, which
// are O(spans of the resource / request).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "exporter/otlp/otlp_decoder.h"
#include "propwatch/span_record.h"

namespace propwatch::otlp::internal {

inline constexpr std::string_view kServiceNameKey = "service.name";

// What a span attribute key means to the engine.
enum class AttrRole : uint8_t {
  kNone,
  kTraceparent,           // http.request.header.traceparent
  kPeerService,           // destination, first choice
  kServerAddress,         // destination, second choice
  kMessagingDestination,  // destination, third choice
  kServerPort,            // server.port (an integer), for edge attribution
};
AttrRole ClassifySpanAttribute(std::string_view key);

// The longest key ClassifySpanAttribute / kServiceNameKey recognize; callers
// that must unescape keys can give up on longer ones.
inline constexpr size_t kMaxInterestingKeySize = 32;

// Maps OTLP Status.code onto StatusCode; unknown values become kUnset.
propwatch::StatusCode StatusCodeFromInt(int64_t value);

// The fields of the span being decoded that are kept as plain values until
// EndSpan. Ids are raw bytes (JSON decoders point them at decoded hex).
struct PendingSpan {
  std::string_view trace_id;
  std::string_view span_id;
  std::string_view parent_span_id;
  std::string_view name;
  propwatch::SpanKind kind = propwatch::SpanKind::kUnspecified;
  propwatch::StatusCode status = propwatch::StatusCode::kUnset;
  uint64_t start_unix_nano = 0;
  uint64_t end_unix_nano = 0;
  std::string_view destination;
  int destination_rank = 0;  // 0 = none yet; lower non-zero = preferred
  std::string_view peer_service, server_address, messaging_destination;  // first non-empty
  uint32_t server_port = 0;
};

class TracesBuilder {
 public:
  // Clears `out`; it receives the result.
  explicit TracesBuilder(DecodedTraces* out);

  void BeginResource();
  // The first offered name of a resource wins.
  void OfferServiceName(std::string_view name);
  void EndResource();

  // Resets and returns the pending span; the decoder fills it in.
  PendingSpan& BeginSpan();
  PendingSpan& span() { return span_; }
  // Keeps the link only when its ids form a valid (non-zero) context.
  void AddLink(std::string_view trace_id, std::string_view span_id);
  void AddTraceparent(std::string_view value);
  // AnyValue oneof "last member wins": a decoder marks where one attribute
  // value's traceparents start and rolls back when a later member replaces
  // them.
  size_t TraceparentMark() const { return out_->traceparents_.size(); }
  void RollbackTraceparents(size_t mark) { out_->traceparents_.resize(mark); }
  void OfferDestination(AttrRole role, std::string_view value);
  // A `server.port` value: kept when in 1..65535, else cleared (the last
  // value of the attribute wins, as for any attribute).
  void OfferServerPort(uint64_t value, bool is_int);
  void EndSpan();

  // Storage for unescaped JSON strings: room for `body_size` bytes in total,
  // which is enough because unescaping never lengthens a string and each
  // input string is unescaped at most once per decode.
  void PrepareUnescapeStorage(size_t body_size);
  char* UnescapeTail() { return out_->unescaped_.get() + out_->unescaped_used_; }
  std::string_view CommitUnescaped(size_t size);
  size_t UnescapeRoom() const { return out_->unescaped_capacity_ - out_->unescaped_used_; }

  // Sets the links / traceparents of every span; the output is final.
  void Finish();
  // Drops everything decoded so far (error path).
  void Abort();

 private:
  DecodedTraces* out_;
  PendingSpan span_;
  uint32_t link_mark_ = 0;
  uint32_t traceparent_mark_ = 0;
  size_t resource_span_begin_ = 0;
  size_t resource_rejected_begin_ = 0;
  bool resource_has_service_ = false;
  std::string_view resource_service_;
};

}  // namespace propwatch::otlp::internal
