// DecodedTraces and the format-independent TracesBuilder. The two wire
// formats live in otlp_proto_decoder.cc and otlp_json_decoder.cc.
#include "exporter/otlp/otlp_decoder.h"

#include <limits>
#include <utility>

#include "exporter/otlp/traces_builder.h"

namespace propwatch::otlp {

DecodedTraces::DecodedTraces() = default;
DecodedTraces::~DecodedTraces() = default;
DecodedTraces::DecodedTraces(DecodedTraces&&) noexcept = default;
DecodedTraces& DecodedTraces::operator=(DecodedTraces&&) noexcept = default;

void DecodedTraces::Clear() {
  spans_.clear();
  extents_.clear();
  rejected_.clear();
  links_.clear();
  traceparents_.clear();
  rejected_span_count_ = 0;
  unescaped_used_ = 0;
}

size_t DecodedTraces::CapacityBytes() const {
  return spans_.capacity() * sizeof(spans_[0]) + extents_.capacity() * sizeof(extents_[0]) +
         rejected_.capacity() * sizeof(rejected_[0]) + links_.capacity() * sizeof(links_[0]) +
         traceparents_.capacity() * sizeof(traceparents_[0]) + unescaped_capacity_;
}

namespace internal {

AttrRole ClassifySpanAttribute(std::string_view key) {
  // Dispatch on length first: most attribute keys match none of these.
  switch (key.size()) {
    case 11:
      if (key == "server.port") return AttrRole::kServerPort;
      break;
    case 12:
      if (key == "peer.service") return AttrRole::kPeerService;
      break;
    case 14:
      if (key == "server.address") return AttrRole::kServerAddress;
      break;
    case 26:
      if (key == "messaging.destination.name") return AttrRole::kMessagingDestination;
      break;
    case 31:
      if (key == "http.request.header.traceparent") return AttrRole::kTraceparent;
      break;
    default:
      break;
  }
  return AttrRole::kNone;
}

propwatch::StatusCode StatusCodeFromInt(int64_t value) {
  switch (value) {
    case 1:
      return propwatch::StatusCode::kOk;
    case 2:
      return propwatch::StatusCode::kError;
    default:
      return propwatch::StatusCode::kUnset;
  }
}

TracesBuilder::TracesBuilder(DecodedTraces* out) : out_(out) { out_->Clear(); }

void TracesBuilder::BeginResource() {
  resource_span_begin_ = out_->spans_.size();
  resource_rejected_begin_ = out_->rejected_.size();
  resource_has_service_ = false;
  resource_service_ = {};
}

void TracesBuilder::OfferServiceName(std::string_view name) {
  if (resource_has_service_) return;
  resource_has_service_ = true;
  resource_service_ = name;
}

void TracesBuilder::EndResource() {
  // The resource may follow its spans on the wire, so the name is applied
  // once the whole ResourceSpans has been read.
  for (size_t i = resource_span_begin_; i < out_->spans_.size(); ++i) {
    out_->spans_[i].service_name = resource_service_;
  }
  for (size_t i = resource_rejected_begin_; i < out_->rejected_.size(); ++i) {
    out_->rejected_[i].service_name = resource_service_;
  }
}

PendingSpan& TracesBuilder::BeginSpan() {
  span_ = PendingSpan();
  link_mark_ = static_cast<uint32_t>(out_->links_.size());
  traceparent_mark_ = static_cast<uint32_t>(out_->traceparents_.size());
  return span_;
}

void TracesBuilder::AddLink(std::string_view trace_id, std::string_view span_id) {
  propwatch::SpanContextCheck check = propwatch::CheckSpanContext(trace_id, span_id, {});
  if (!check.ok) return;
  out_->links_.push_back(propwatch::SpanLink{check.trace_id, check.span_id});
}

void TracesBuilder::AddTraceparent(std::string_view value) {
  out_->traceparents_.push_back(value);
}

void TracesBuilder::OfferDestination(AttrRole role, std::string_view value) {
  if (value.empty()) return;
  int rank;
  switch (role) {
    case AttrRole::kPeerService:
      rank = 1;
      if (span_.peer_service.empty()) span_.peer_service = value;
      break;
    case AttrRole::kServerAddress:
      rank = 2;
      if (span_.server_address.empty()) span_.server_address = value;
      break;
    case AttrRole::kMessagingDestination:
      rank = 3;
      if (span_.messaging_destination.empty()) span_.messaging_destination = value;
      break;
    default:
      return;
  }
  if (span_.destination_rank != 0 && span_.destination_rank <= rank) return;
  span_.destination_rank = rank;
  span_.destination = value;
}

void TracesBuilder::OfferServerPort(uint64_t value, bool is_int) {
  span_.server_port = is_int && value >= 1 && value <= 65535 ? static_cast<uint32_t>(value) : 0;
}

void TracesBuilder::EndSpan() {
  propwatch::SpanContextCheck check =
      propwatch::CheckSpanContext(span_.trace_id, span_.span_id, span_.parent_span_id);
  if (!check.ok) {
    // Give back what the rejected span stored.
    out_->links_.resize(link_mark_);
    out_->traceparents_.resize(traceparent_mark_);
    ++out_->rejected_span_count_;
    if (out_->rejected_.size() > resource_rejected_begin_) {
      RejectedSpan& last = out_->rejected_.back();
      if (last.error == check.error && last.count < std::numeric_limits<uint32_t>::max()) {
        ++last.count;
        return;
      }
    }
    out_->rejected_.push_back(RejectedSpan{{}, check.error, 1});
    return;
  }
  propwatch::SpanRecord& record = out_->spans_.emplace_back();
  record.trace_id = check.trace_id;
  record.span_id = check.span_id;
  record.parent_span_id = check.parent_span_id;
  record.name = span_.name;
  record.kind = span_.kind;
  record.status = span_.status;
  record.start_unix_nano = span_.start_unix_nano;
  record.end_unix_nano = span_.end_unix_nano;
  record.destination = span_.destination;
  record.peer_service = span_.peer_service;
  record.server_address = span_.server_address;
  record.server_port = span_.server_port;
  record.messaging_destination = span_.messaging_destination;
  out_->extents_.push_back(DecodedTraces::Extents{
      link_mark_, static_cast<uint32_t>(out_->links_.size()) - link_mark_, traceparent_mark_,
      static_cast<uint32_t>(out_->traceparents_.size()) - traceparent_mark_});
}

void TracesBuilder::PrepareUnescapeStorage(size_t body_size) {
  if (out_->unescaped_capacity_ >= body_size) return;
  out_->unescaped_ = std::make_unique_for_overwrite<char[]>(body_size);
  out_->unescaped_capacity_ = body_size;
  out_->unescaped_used_ = 0;
}

std::string_view TracesBuilder::CommitUnescaped(size_t size) {
  std::string_view view(out_->unescaped_.get() + out_->unescaped_used_, size);
  out_->unescaped_used_ += size;
  return view;
}

void TracesBuilder::Finish() {
  for (size_t i = 0; i < out_->spans_.size(); ++i) {
    const DecodedTraces::Extents& e = out_->extents_[i];
    propwatch::SpanRecord& record = out_->spans_[i];
    if (e.link_count != 0) {
      record.links = std::span<const propwatch::SpanLink>(out_->links_.data() + e.link_begin,
                                                          e.link_count);
    }
    if (e.traceparent_count != 0) {
      record.captured_traceparents = std::span<const std::string_view>(
          out_->traceparents_.data() + e.traceparent_begin, e.traceparent_count);
    }
  }
}

void TracesBuilder::Abort() { out_->Clear(); }

}  // namespace internal
}  // namespace propwatch::otlp
