/* The same four spans as main.cc, through the C ABI (propwatch/c.h). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "propwatch/c.h"

static int64_t now_ns = 0; /* a manual clock: the engine asks, we answer */
static int64_t manual_clock(void* context) { (void)context; return now_ns; }

static propwatch_span span(int trace, int id, int parent, const char* service, int kind) {
  propwatch_span s;
  memset(&s, 0, sizeof s);
  s.trace_id[15] = (uint8_t)trace;
  s.span_id[7] = (uint8_t)id;
  s.parent_span_id[7] = (uint8_t)parent;
  s.service_name.data = service;
  s.service_name.size = strlen(service);
  s.kind = kind;
  return s;
}

int main(void) {
  char error[256];
  propwatch_options* options = propwatch_options_create();
  propwatch_options_add_entry_point_service(options, "gateway", 7);
  propwatch_options_set_clock(options, manual_clock, NULL);
  propwatch_engine* engine = NULL;
  propwatch_status status = propwatch_engine_create(options, &engine, error, sizeof error);
  propwatch_options_destroy(options);
  if (status != PROPWATCH_OK) {
    fprintf(stderr, "propwatch_engine_create: %s\n", error);
    return 1;
  }
  const propwatch_span spans[] = {
      span(1, 1, 0, "gateway", PROPWATCH_SPAN_KIND_SERVER),
      span(1, 2, 1, "gateway", PROPWATCH_SPAN_KIND_CLIENT),
      span(2, 3, 0, "worker", PROPWATCH_SPAN_KIND_SERVER),
      span(2, 4, 9, "worker", PROPWATCH_SPAN_KIND_INTERNAL),
  };
  propwatch_engine_ingest(engine, spans, 4, NULL, NULL);
  now_ns += 30 * INT64_C(1000000000); /* trace_idle_timeout: the traces are judged */

  propwatch_snapshot* snapshot = NULL;
  if (propwatch_engine_collect(engine, &snapshot) != PROPWATCH_OK) return 1;
  for (size_t i = 0; i < propwatch_snapshot_service_count(snapshot); ++i) {
    const char* name;
    size_t name_len;
    uint64_t spans_n, orphans, broken, unpaired;
    propwatch_snapshot_service(snapshot, i, &name, &name_len, NULL);
    propwatch_snapshot_counter(snapshot, i, PROPWATCH_TOTAL, PROPWATCH_COUNTER_SPANS, &spans_n);
    propwatch_snapshot_counter(snapshot, i, PROPWATCH_TOTAL, PROPWATCH_COUNTER_ORPHAN_SPANS, &orphans);
    propwatch_snapshot_counter(snapshot, i, PROPWATCH_TOTAL, PROPWATCH_COUNTER_BROKEN_PARENTS, &broken);
    propwatch_snapshot_counter(snapshot, i, PROPWATCH_TOTAL, PROPWATCH_COUNTER_UNPAIRED_OUTBOUND,
                               &unpaired);
    printf("%.*s spans=%" PRIu64 " orphans=%" PRIu64 " broken_parents=%" PRIu64
           " unpaired_outbound=%" PRIu64 "\n",
           (int)name_len, name, spans_n, orphans, broken, unpaired);
  }
  propwatch_snapshot_destroy(snapshot);
  propwatch_engine_destroy(engine);
  return 0;
}
