// Feeds the propwatch engine four spans and prints what it found per service.
#include <iostream>
#include <memory>
#include <vector>

#include "propwatch/engine.h"

int main() {
  propwatch::ManualClock clock;  // drives time here; leave it out for the system clock
  propwatch::EngineOptions options;
  options.entry_point_services = {"gateway"};  // where traces legitimately start
  options.clock = &clock;
  std::unique_ptr<propwatch::Engine> engine;
  if (propwatch::Status s = propwatch::Engine::Create(options, &engine); !s.ok()) {
    std::cerr << s.ToString() << "\n";
    return 1;
  }
  using K = propwatch::SpanKind;
  auto span = [](int trace, int id, int parent, const char* service, K kind) {
    propwatch::SpanRecord r;  // ids are raw bytes, as on the OTLP wire
    r.trace_id.bytes[15] = trace, r.span_id.bytes[7] = id, r.parent_span_id.bytes[7] = parent;
    r.service_name = service, r.kind = kind;
    return r;
  };
  const std::vector<propwatch::SpanRecord> spans = {
      span(1, 1, 0, "gateway", K::kServer),   // a trace starts at the entry point
      span(1, 2, 1, "gateway", K::kClient),   // it calls the worker, but...
      span(2, 3, 0, "worker", K::kServer),    // ...no traceparent arrives: an orphan
      span(2, 4, 9, "worker", K::kInternal),  // parent 9 never arrives: broken parent
  };
  engine->Ingest(spans);
  clock.Advance(options.trace_idle_timeout);  // the traces go idle and are judged
  for (const propwatch::ServiceSnapshot& s : engine->Collect().services) {
    std::cout << s.service << " spans=" << s.total.spans << " orphans=" << s.total.orphan_spans()
              << " broken_parents=" << s.total.broken_parents
              << " unpaired_outbound=" << s.total.unpaired_outbound << "\n";
  }
}
