// SpanObserver: a tap on the spans the receiver hands to the engine, e.g. a
// bounded store of recent traces for the trace API.
//
// Contract: IngestPipeline calls OnSpans once per accepted request, after
// Engine::Ingest, with the request's spans that have a valid span context
// (never an empty batch). The SpanRecords borrow from the request buffer and
// are valid only during the call: copy whatever is kept.
//
// Thread-safety: implementations must be thread-safe; OnSpans is called
// concurrently from every transport thread (gRPC callback threads and HTTP io
// threads).
//
// Cost: runs on the ingest hot path, inside the request's handling time, so
// keep it O(spans) and non-blocking; a slow observer delays the client's
// response and, with the in-flight limits, turns into back-pressure.
#pragma once

#include <span>

#include "propwatch/span_record.h"

namespace propwatch::receiver {

class SpanObserver {
 public:
  virtual ~SpanObserver() = default;
  virtual void OnSpans(std::span<const SpanRecord> spans) = 0;
};

}  // namespace propwatch::receiver
