/* propwatch C ABI: the engine behind opaque handles, for C and for any
 * language with a C foreign-function interface (Python ctypes/cffi, Go cgo,
 * Rust, Java FFM).
 *
 * The same engine and the same definitions as the C++ API (propwatch/engine.h;
 * every counter is defined in docs/semantics.md). Add-only from 0.2.0 on, in
 * minor releases too (docs/versioning.md): functions and enum values are only
 * ever added; struct layouts below never change (a new layout would come
 * with new functions). Callers treat an unknown propwatch_status as an error.
 *
 * Errors: every function that can fail returns a propwatch_status; PROPWATCH_OK
 * is 0. Functions that take `char* error, size_t error_size` write a
 * NUL-terminated message there on failure (truncated to fit; either may be
 * NULL/0). Nothing here throws or aborts on bad input; a NULL handle or a
 * NULL required pointer is PROPWATCH_INVALID_ARGUMENT.
 *
 * Ownership: every handle made by a *_create / *_collect function is owned by
 * the caller and released with the matching *_destroy (NULL is a no-op).
 * Strings passed in are borrowed for the call only (pointer + length, need
 * not be NUL-terminated). Strings handed out by a snapshot live as long as
 * the snapshot.
 *
 * Thread-safety: a propwatch_engine is thread-safe (ingest, observe, advance
 * and collect from any threads at once). propwatch_options and
 * propwatch_snapshot are thread-compatible (do not mutate one from two
 * threads). A clock callback is called from every thread that calls into the
 * engine, so it must be thread-safe and must not call back into the engine.
 *
 * Cost: as in propwatch/engine.h; ingest copies each span into the C++ record
 * (O(links + captured headers)), collect is O(stripes x services).
 */
#ifndef PROPWATCH_C_H_
#define PROPWATCH_C_H_

#include <stddef.h>
#include <stdint.h>

#include "propwatch/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum propwatch_status {
  PROPWATCH_OK = 0,
  PROPWATCH_INVALID_ARGUMENT = 1, /* bad option, NULL handle, index out of range */
  PROPWATCH_NOT_FOUND = 2,        /* no such service in the snapshot */
  PROPWATCH_INTERNAL = 3          /* out of memory, or a broken invariant */
} propwatch_status;

/* "MAJOR.MINOR.PATCH" of the library linked at run time (static string). */
PROPWATCH_EXPORT const char* propwatch_version(void);
/* MAJOR * 10000 + MINOR * 100 + PATCH, as PROPWATCH_VERSION_NUMBER. */
PROPWATCH_EXPORT int propwatch_version_number(void);

/* --- options ----------------------------------------------------------- */

typedef struct propwatch_options propwatch_options;

/* Defaults as in propwatch/engine_options.h. NULL when out of memory. */
PROPWATCH_EXPORT propwatch_options* propwatch_options_create(void);
PROPWATCH_EXPORT void propwatch_options_destroy(propwatch_options* options);

/* An entry-point service name or glob (`*`, `?`); call once per pattern. */
PROPWATCH_EXPORT propwatch_status propwatch_options_add_entry_point_service(
    propwatch_options* options, const char* pattern, size_t pattern_len);
/* Durations in nanoseconds. */
PROPWATCH_EXPORT propwatch_status propwatch_options_set_trace_idle_timeout_ns(
    propwatch_options* options, int64_t ns);
PROPWATCH_EXPORT propwatch_status propwatch_options_set_late_span_retention_ns(
    propwatch_options* options, int64_t ns);
PROPWATCH_EXPORT propwatch_status propwatch_options_set_window_ns(
    propwatch_options* options, int64_t length_ns, int64_t resolution_ns);
PROPWATCH_EXPORT propwatch_status propwatch_options_set_max_traces(
    propwatch_options* options, uint32_t max_traces);
PROPWATCH_EXPORT propwatch_status propwatch_options_set_max_spans_per_trace(
    propwatch_options* options, uint32_t max_spans);
PROPWATCH_EXPORT propwatch_status propwatch_options_set_max_services(
    propwatch_options* options, uint32_t max_services);
PROPWATCH_EXPORT propwatch_status propwatch_options_set_max_destinations(
    propwatch_options* options, uint32_t max_destinations);
/* Fleet rollouts (EngineOptions::rebalance_window, max_clock_skew). */
PROPWATCH_EXPORT propwatch_status propwatch_options_set_rebalance_window_ns(
    propwatch_options* options, int64_t ns);
PROPWATCH_EXPORT propwatch_status propwatch_options_set_max_clock_skew_ns(
    propwatch_options* options, int64_t ns);
/* 0 = automatic, else a power of two up to 1024 (checked at engine create). */
PROPWATCH_EXPORT propwatch_status propwatch_options_set_shards(propwatch_options* options,
                                                               uint32_t shards);

/* The engine's clock: `now` returns Unix time in nanoseconds. Default: the
 * system clock. `context` is passed back unchanged. The callback and context
 * must stay valid for the engine's lifetime (see thread-safety above). */
typedef int64_t (*propwatch_clock_fn)(void* context);
PROPWATCH_EXPORT propwatch_status propwatch_options_set_clock(propwatch_options* options,
                                                              propwatch_clock_fn now,
                                                              void* context);

/* --- engine ------------------------------------------------------------ */

typedef struct propwatch_engine propwatch_engine;

/* Validates `options` (they are copied; destroy them whenever) and stores a
 * new engine in *engine. On failure *engine is left unchanged and `error`
 * says which option is wrong. */
PROPWATCH_EXPORT propwatch_status propwatch_engine_create(const propwatch_options* options,
                                                          propwatch_engine** engine,
                                                          char* error, size_t error_size);
PROPWATCH_EXPORT void propwatch_engine_destroy(propwatch_engine* engine);

/* OTLP Span.SpanKind and Status.StatusCode numbering. */
enum {
  PROPWATCH_SPAN_KIND_UNSPECIFIED = 0,
  PROPWATCH_SPAN_KIND_INTERNAL = 1,
  PROPWATCH_SPAN_KIND_SERVER = 2,
  PROPWATCH_SPAN_KIND_CLIENT = 3,
  PROPWATCH_SPAN_KIND_PRODUCER = 4,
  PROPWATCH_SPAN_KIND_CONSUMER = 5
};
enum { PROPWATCH_STATUS_UNSET = 0, PROPWATCH_STATUS_OK = 1, PROPWATCH_STATUS_ERROR = 2 };

typedef struct propwatch_string {
  const char* data;
  size_t size;
} propwatch_string;

typedef struct propwatch_link {
  uint8_t trace_id[16];
  uint8_t span_id[8];
} propwatch_link;

/* One span, as propwatch::SpanRecord (propwatch/span_record.h). Ids are raw
 * bytes as on the OTLP wire; an all-zero parent_span_id marks a root. */
typedef struct propwatch_span {
  uint8_t trace_id[16];
  uint8_t span_id[8];
  uint8_t parent_span_id[8];
  propwatch_string service_name; /* empty: unknown_service */
  propwatch_string name;         /* ignored by the engine */
  int32_t kind;                  /* PROPWATCH_SPAN_KIND_*; others: unspecified */
  int32_t status;                /* PROPWATCH_STATUS_* */
  uint64_t start_unix_nano;
  uint64_t end_unix_nano;
  const propwatch_link* links;
  size_t links_count;
  /* Values of the span attribute http.request.header.traceparent. */
  const propwatch_string* captured_traceparents;
  size_t captured_traceparents_count;
  /* peer.service, else server.address, else messaging.destination.name. */
  propwatch_string destination;
} propwatch_span;

/* Ingests `count` spans (borrowed for the call). Spans with an all-zero trace
 * or span id are rejected and counted as invalid span contexts. `accepted`
 * and `rejected` may be NULL. A propwatch_string with NULL data and a non-zero
 * size anywhere in the batch makes the whole call PROPWATCH_INVALID_ARGUMENT
 * (nothing is ingested). */
PROPWATCH_EXPORT propwatch_status propwatch_engine_ingest(propwatch_engine* engine,
                                                          const propwatch_span* spans,
                                                          size_t count, uint64_t* accepted,
                                                          uint64_t* rejected);

/* Validates one raw W3C traceparent header value received by `service` and
 * counts it. *valid (may be NULL) is set to 1 or 0; *reason (may be NULL) to
 * the snake_case reason label when invalid (static string), else NULL. */
PROPWATCH_EXPORT propwatch_status propwatch_engine_observe_traceparent(
    propwatch_engine* engine, const char* service, size_t service_len, const char* header,
    size_t header_len, int* valid, const char** reason);

/* Finalizes idle traces and rolls the windows up to the clock's now. */
PROPWATCH_EXPORT propwatch_status propwatch_engine_advance(propwatch_engine* engine);

/* Engine::BeginRebalance: the set of engines behind the load balancer changed. */
PROPWATCH_EXPORT propwatch_status propwatch_engine_begin_rebalance(propwatch_engine* engine);

/* --- snapshot ---------------------------------------------------------- */

typedef struct propwatch_snapshot propwatch_snapshot;

/* Advance, then a copy of every service's counters and the engine's stats. */
PROPWATCH_EXPORT propwatch_status propwatch_engine_collect(propwatch_engine* engine,
                                                           propwatch_snapshot** snapshot);
PROPWATCH_EXPORT void propwatch_snapshot_destroy(propwatch_snapshot* snapshot);

/* Services, sorted by name; indices run from 0 to count - 1. */
PROPWATCH_EXPORT size_t propwatch_snapshot_service_count(const propwatch_snapshot* snapshot);
/* The service's name (not NUL-terminated: use *name_len) and whether it is an
 * entry point. */
PROPWATCH_EXPORT propwatch_status propwatch_snapshot_service(const propwatch_snapshot* snapshot,
                                                             size_t index, const char** name,
                                                             size_t* name_len, int* entry_point);
/* Index of a service by name; PROPWATCH_NOT_FOUND when absent. */
PROPWATCH_EXPORT propwatch_status propwatch_snapshot_find_service(
    const propwatch_snapshot* snapshot, const char* name, size_t name_len, size_t* index);

/* Per-service counters (docs/semantics.md). Values are stable; new counters
 * get new values. */
typedef enum propwatch_counter {
  PROPWATCH_COUNTER_SPANS = 0,
  PROPWATCH_COUNTER_ROOT_SPANS = 1,
  PROPWATCH_COUNTER_ORPHAN_SPANS = 2, /* all kinds */
  PROPWATCH_COUNTER_ORPHAN_SPANS_UNSPECIFIED = 3,
  PROPWATCH_COUNTER_ORPHAN_SPANS_INTERNAL = 4,
  PROPWATCH_COUNTER_ORPHAN_SPANS_SERVER = 5,
  PROPWATCH_COUNTER_ORPHAN_SPANS_CLIENT = 6,
  PROPWATCH_COUNTER_ORPHAN_SPANS_PRODUCER = 7,
  PROPWATCH_COUNTER_ORPHAN_SPANS_CONSUMER = 8,
  PROPWATCH_COUNTER_LINKED_ROOTS = 9,
  PROPWATCH_COUNTER_BROKEN_PARENTS = 10,
  PROPWATCH_COUNTER_UNPAIRED_OUTBOUND = 11,
  PROPWATCH_COUNTER_LATE_SPANS = 12,
  PROPWATCH_COUNTER_DUPLICATE_SPANS = 13,
  PROPWATCH_COUNTER_EXTRACTION_FAILURES = 14,
  PROPWATCH_COUNTER_TRACEPARENTS_VALID = 15,
  PROPWATCH_COUNTER_INVALID_TRACEPARENTS = 16, /* all reasons */
  PROPWATCH_COUNTER_INVALID_SPAN_CONTEXTS = 17 /* all reasons */
} propwatch_counter;

/* Monotonic totals, or the same quantity over the sliding window. */
typedef enum propwatch_scope { PROPWATCH_TOTAL = 0, PROPWATCH_WINDOW = 1 } propwatch_scope;

PROPWATCH_EXPORT propwatch_status propwatch_snapshot_counter(const propwatch_snapshot* snapshot,
                                                             size_t service_index,
                                                             propwatch_scope scope,
                                                             propwatch_counter counter,
                                                             uint64_t* value);

/* The engine's own health (EngineStats in propwatch/snapshot.h). */
typedef enum propwatch_stat {
  PROPWATCH_STAT_LIVE_TRACES = 0,
  PROPWATCH_STAT_FINALIZED_TRACES_RETAINED = 1,
  PROPWATCH_STAT_SERVICES = 2,
  PROPWATCH_STAT_DESTINATIONS = 3,
  PROPWATCH_STAT_TRACKED_BYTES = 4,
  PROPWATCH_STAT_DISTINCT_TRACE_IDS = 5,
  PROPWATCH_STAT_DISTINCT_TRACE_IDS_WINDOW = 6,
  PROPWATCH_STAT_TRACES_FINALIZED = 7,
  PROPWATCH_STAT_TRACES_EVICTED_CAPACITY = 8,
  PROPWATCH_STAT_FINALIZED_TRACES_DISPLACED = 9,
  PROPWATCH_STAT_SPANS_UNTRACKED_TRACE_CAP = 10,
  PROPWATCH_STAT_SPANS_OVERFLOW_SERVICE = 11,
  PROPWATCH_STAT_OUTBOUND_OVERFLOW_DESTINATION = 12,
  PROPWATCH_STAT_TRACES_UNJUDGED_TRUNCATED = 13,
  PROPWATCH_STAT_TRACES_UNJUDGED_EVICTED = 14,
  PROPWATCH_STAT_TRACES_UNJUDGED_STARTED_BEFORE_START = 15,
  PROPWATCH_STAT_TRACES_UNJUDGED_REBALANCE = 16,
  PROPWATCH_STAT_REBALANCES = 17,
  PROPWATCH_STAT_EXAMPLE_SERIES = 18,
  PROPWATCH_STAT_EXAMPLE_SERIES_OVERFLOW = 19,
  /* Broken-edge attribution (EngineStats::edge_*). */
  PROPWATCH_STAT_EDGE_ORPHANS_PENDING = 20,
  PROPWATCH_STAT_EDGE_OUTBOUND_CANDIDATES = 21,
  PROPWATCH_STAT_EDGE_SERIES = 22,
  PROPWATCH_STAT_EDGE_ORPHANS_EVICTED = 23,
  PROPWATCH_STAT_EDGE_OUTBOUND_EVICTED = 24,
  PROPWATCH_STAT_EDGE_SERIES_OVERFLOW = 25
} propwatch_stat;

PROPWATCH_EXPORT propwatch_status propwatch_snapshot_stat(const propwatch_snapshot* snapshot,
                                                          propwatch_stat stat, uint64_t* value);

/* Nanoseconds of receive-clock time the window actually covers. */
PROPWATCH_EXPORT int64_t propwatch_snapshot_window_covered_ns(const propwatch_snapshot* snapshot);

#ifdef __cplusplus
}  /* extern "C" */
#endif

#endif  /* PROPWATCH_C_H_ */
