"""The C ABI (propwatch/c.h) from Python through ctypes, against an installed
shared libpropwatch. Exact counter values for a small known trace set.

    python3 c_abi_test.py /path/to/libpropwatch.so [expected version]
"""
import ctypes as C
import sys
import unittest

LIB_PATH = sys.argv[1] if len(sys.argv) > 1 else "libpropwatch.so"
EXPECTED_VERSION = sys.argv[2] if len(sys.argv) > 2 else None
lib = C.CDLL(LIB_PATH)

OK, INVALID_ARGUMENT, NOT_FOUND = 0, 1, 2
KIND = {"internal": 1, "server": 2, "client": 3, "producer": 4, "consumer": 5}
# propwatch_counter values (c.h)
SPANS, ROOT_SPANS, ORPHAN_SPANS = 0, 1, 2
ORPHAN_SERVER, ORPHAN_CONSUMER, ORPHAN_INTERNAL = 5, 8, 4
LINKED_ROOTS, BROKEN_PARENTS, UNPAIRED_OUTBOUND, LATE_SPANS = 9, 10, 11, 12
DUPLICATE_SPANS, EXTRACTION_FAILURES, TRACEPARENTS_VALID = 13, 14, 15
INVALID_TRACEPARENTS, INVALID_SPAN_CONTEXTS = 16, 17
TOTAL, WINDOW = 0, 1
STAT_LIVE_TRACES, STAT_DISTINCT_TRACE_IDS, STAT_TRACES_FINALIZED = 0, 5, 7
SECOND = 1_000_000_000


class String(C.Structure):
    _fields_ = [("data", C.c_char_p), ("size", C.c_size_t)]


def s(text):
    raw = text.encode()
    return String(raw, len(raw))


class Link(C.Structure):
    _fields_ = [("trace_id", C.c_uint8 * 16), ("span_id", C.c_uint8 * 8)]


class Span(C.Structure):
    _fields_ = [
        ("trace_id", C.c_uint8 * 16),
        ("span_id", C.c_uint8 * 8),
        ("parent_span_id", C.c_uint8 * 8),
        ("service_name", String),
        ("name", String),
        ("kind", C.c_int32),
        ("status", C.c_int32),
        ("start_unix_nano", C.c_uint64),
        ("end_unix_nano", C.c_uint64),
        ("links", C.POINTER(Link)),
        ("links_count", C.c_size_t),
        ("captured_traceparents", C.POINTER(String)),
        ("captured_traceparents_count", C.c_size_t),
        ("destination", String),
    ]


CLOCK_FN = C.CFUNCTYPE(C.c_int64, C.c_void_p)
P = C.c_void_p
lib.propwatch_version.restype = C.c_char_p
lib.propwatch_version_number.restype = C.c_int
lib.propwatch_options_create.restype = P
lib.propwatch_options_destroy.argtypes = [P]
lib.propwatch_options_add_entry_point_service.argtypes = [P, C.c_char_p, C.c_size_t]
lib.propwatch_options_set_trace_idle_timeout_ns.argtypes = [P, C.c_int64]
lib.propwatch_options_set_late_span_retention_ns.argtypes = [P, C.c_int64]
lib.propwatch_options_set_window_ns.argtypes = [P, C.c_int64, C.c_int64]
lib.propwatch_options_set_shards.argtypes = [P, C.c_uint32]
lib.propwatch_options_set_max_traces.argtypes = [P, C.c_uint32]
lib.propwatch_options_set_clock.argtypes = [P, CLOCK_FN, P]
lib.propwatch_engine_create.argtypes = [P, C.POINTER(P), C.c_char_p, C.c_size_t]
lib.propwatch_engine_destroy.argtypes = [P]
lib.propwatch_engine_ingest.argtypes = [P, C.POINTER(Span), C.c_size_t,
                                        C.POINTER(C.c_uint64), C.POINTER(C.c_uint64)]
lib.propwatch_engine_observe_traceparent.argtypes = [
    P, C.c_char_p, C.c_size_t, C.c_char_p, C.c_size_t, C.POINTER(C.c_int),
    C.POINTER(C.c_char_p)]
lib.propwatch_engine_advance.argtypes = [P]
lib.propwatch_engine_collect.argtypes = [P, C.POINTER(P)]
lib.propwatch_snapshot_destroy.argtypes = [P]
lib.propwatch_snapshot_service_count.argtypes = [P]
lib.propwatch_snapshot_service_count.restype = C.c_size_t
lib.propwatch_snapshot_service.argtypes = [P, C.c_size_t, C.POINTER(C.c_char_p),
                                           C.POINTER(C.c_size_t), C.POINTER(C.c_int)]
lib.propwatch_snapshot_find_service.argtypes = [P, C.c_char_p, C.c_size_t,
                                                C.POINTER(C.c_size_t)]
lib.propwatch_snapshot_counter.argtypes = [P, C.c_size_t, C.c_int, C.c_int,
                                           C.POINTER(C.c_uint64)]
lib.propwatch_snapshot_stat.argtypes = [P, C.c_int, C.POINTER(C.c_uint64)]
lib.propwatch_snapshot_window_covered_ns.argtypes = [P]
lib.propwatch_snapshot_window_covered_ns.restype = C.c_int64


def trace_id(n):
    return (C.c_uint8 * 16)(*([0xab] + [0] * 13 + [n >> 8, n & 0xff]))


def span_id(n):
    return (C.c_uint8 * 8)(*([0] * 6 + [n >> 8, n & 0xff]))


def span(trace, sid, parent, service, kind, links=(), traceparents=()):
    sp = Span()
    sp.trace_id = trace_id(trace) if trace else (C.c_uint8 * 16)()
    sp.span_id = span_id(sid)
    sp.parent_span_id = span_id(parent) if parent else (C.c_uint8 * 8)()
    sp.service_name = s(service)
    sp.kind = KIND[kind]
    if links:
        arr = (Link * len(links))(*[Link(trace_id(t), span_id(i)) for t, i in links])
        sp.links, sp.links_count = C.cast(arr, C.POINTER(Link)), len(links)
        sp._keep_links = arr
    if traceparents:
        arr = (String * len(traceparents))(*[s(v) for v in traceparents])
        sp.captured_traceparents = C.cast(arr, C.POINTER(String))
        sp.captured_traceparents_count = len(traceparents)
        sp._keep_headers = arr
    return sp


class Engine:
    """A propwatch_engine on a manual clock driven from Python."""

    def __init__(self, shards=1, entry=("gateway",), max_traces=None):
        self.now = 365 * 24 * 3600 * SECOND
        self._clock = CLOCK_FN(lambda _ctx: self.now)  # kept alive with the engine
        options = lib.propwatch_options_create()
        try:
            for pattern in entry:
                raw = pattern.encode()
                assert lib.propwatch_options_add_entry_point_service(options, raw, len(raw)) == OK
            assert lib.propwatch_options_set_trace_idle_timeout_ns(options, 30 * SECOND) == OK
            assert lib.propwatch_options_set_late_span_retention_ns(options, 60 * SECOND) == OK
            assert lib.propwatch_options_set_window_ns(options, 60 * SECOND, 10 * SECOND) == OK
            assert lib.propwatch_options_set_shards(options, shards) == OK
            if max_traces is not None:
                assert lib.propwatch_options_set_max_traces(options, max_traces) == OK
            assert lib.propwatch_options_set_clock(options, self._clock, None) == OK
            self.handle = P()
            error = C.create_string_buffer(256)
            self.status = lib.propwatch_engine_create(options, C.byref(self.handle), error, 256)
            self.error = error.value.decode()
        finally:
            lib.propwatch_options_destroy(options)

    def ingest(self, spans):
        arr = (Span * len(spans))(*spans)
        accepted, rejected = C.c_uint64(), C.c_uint64()
        assert lib.propwatch_engine_ingest(self.handle, arr, len(spans), C.byref(accepted),
                                           C.byref(rejected)) == OK
        return accepted.value, rejected.value

    def observe(self, service, header):
        valid, reason = C.c_int(-1), C.c_char_p()
        svc, hdr = service.encode(), header.encode()
        assert lib.propwatch_engine_observe_traceparent(
            self.handle, svc, len(svc), hdr, len(hdr), C.byref(valid), C.byref(reason)) == OK
        return valid.value, reason.value.decode() if reason.value else None

    def collect(self):
        snap = P()
        assert lib.propwatch_engine_collect(self.handle, C.byref(snap)) == OK
        try:
            out = {"services": {}, "stats": {}}
            out["window_covered_ns"] = lib.propwatch_snapshot_window_covered_ns(snap)
            for i in range(lib.propwatch_snapshot_service_count(snap)):
                name, size, entry = C.c_char_p(), C.c_size_t(), C.c_int()
                assert lib.propwatch_snapshot_service(snap, i, C.byref(name), C.byref(size),
                                                      C.byref(entry)) == OK
                counters = {}
                for scope in (TOTAL, WINDOW):
                    for counter in range(18):
                        v = C.c_uint64()
                        assert lib.propwatch_snapshot_counter(snap, i, scope, counter,
                                                              C.byref(v)) == OK
                        counters[(scope, counter)] = v.value
                out["services"][name.value[:size.value].decode()] = (bool(entry.value), counters)
            for stat in (STAT_LIVE_TRACES, STAT_DISTINCT_TRACE_IDS, STAT_TRACES_FINALIZED):
                v = C.c_uint64()
                assert lib.propwatch_snapshot_stat(snap, stat, C.byref(v)) == OK
                out["stats"][stat] = v.value
            # Every stat up to the last one (edge_series_overflow, 25) answers;
            # one past it is an error.
            for stat in range(26):
                v = C.c_uint64()
                assert lib.propwatch_snapshot_stat(snap, stat, C.byref(v)) == OK, stat
            assert lib.propwatch_snapshot_stat(snap, 26, C.byref(v)) == INVALID_ARGUMENT
            # Out-of-range arguments are errors, not crashes.
            v = C.c_uint64()
            n = lib.propwatch_snapshot_service_count(snap)
            assert lib.propwatch_snapshot_counter(snap, n, TOTAL, SPANS, C.byref(v)) == INVALID_ARGUMENT
            assert lib.propwatch_snapshot_counter(snap, 0, TOTAL, 999, C.byref(v)) == INVALID_ARGUMENT
            idx = C.c_size_t()
            assert lib.propwatch_snapshot_find_service(snap, b"nope", 4, C.byref(idx)) == NOT_FOUND
            return out
        finally:
            lib.propwatch_snapshot_destroy(snap)

    def close(self):
        lib.propwatch_engine_destroy(self.handle)


VALID_TP = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


class CAbiTest(unittest.TestCase):
    def setUp(self):
        self.engine = Engine()
        self.assertEqual(self.engine.status, OK, self.engine.error)

    def tearDown(self):
        self.engine.close()

    def counter(self, snap, service, counter, scope=TOTAL):
        return snap["services"][service][1][(scope, counter)]

    def test_known_trace_set_gives_exact_counters(self):
        e = self.engine
        accepted, rejected = e.ingest([
            span(1, 1, 0, "gateway", "server"),                   # trace start
            span(1, 2, 1, "gateway", "client"),                   # its call: unpaired
            span(2, 3, 0, "worker", "server", traceparents=[VALID_TP]),  # orphan + extraction failure
            span(2, 4, 9, "worker", "internal"),                  # parent 9 never comes
            span(3, 5, 0, "consumer", "consumer", links=[(1, 2)]),  # linked root
            span(4, 6, 0, "consumer", "consumer"),                # orphan (consumer)
            span(5, 7, 0, "consumer", "server",
                 traceparents=["00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01"]),
            span(0, 8, 0, "worker", "server"),                    # zero trace id: rejected
            span(1, 1, 0, "gateway", "server"),                   # duplicate of span 1
        ])
        self.assertEqual((accepted, rejected), (8, 1))
        self.assertEqual(e.observe("worker", "00-" + "0" * 32 + "-b7ad6b7169203331-01"),
                         (0, "trace_id_zero"))
        self.assertEqual(e.observe("worker", VALID_TP), (1, None))

        e.now += 30 * SECOND  # every trace idle: judged
        snap = e.collect()
        self.assertEqual(sorted(snap["services"]), ["consumer", "gateway", "worker"])
        self.assertTrue(snap["services"]["gateway"][0])
        self.assertFalse(snap["services"]["worker"][0])

        c = lambda svc, k: self.counter(snap, svc, k)
        self.assertEqual([c("gateway", k) for k in (SPANS, ROOT_SPANS, ORPHAN_SPANS,
                                                    UNPAIRED_OUTBOUND, DUPLICATE_SPANS)],
                         [2, 1, 0, 1, 1])
        self.assertEqual([c("worker", k) for k in (SPANS, ROOT_SPANS, ORPHAN_SPANS, ORPHAN_SERVER,
                                                   ORPHAN_INTERNAL, BROKEN_PARENTS,
                                                   EXTRACTION_FAILURES, TRACEPARENTS_VALID,
                                                   INVALID_TRACEPARENTS, INVALID_SPAN_CONTEXTS)],
                         [2, 1, 1, 1, 0, 1, 1, 2, 1, 1])
        self.assertEqual([c("consumer", k) for k in (SPANS, ROOT_SPANS, ORPHAN_SPANS,
                                                     ORPHAN_CONSUMER, ORPHAN_SERVER, LINKED_ROOTS,
                                                     INVALID_TRACEPARENTS, EXTRACTION_FAILURES)],
                         [3, 3, 2, 1, 1, 1, 1, 0])
        # Within the first window, the window holds the same as the totals.
        self.assertEqual(self.counter(snap, "worker", BROKEN_PARENTS, WINDOW), 1)
        self.assertEqual(snap["window_covered_ns"], 30 * SECOND)
        self.assertEqual(snap["stats"][STAT_DISTINCT_TRACE_IDS], 5)
        self.assertEqual(snap["stats"][STAT_TRACES_FINALIZED], 5)
        self.assertEqual(snap["stats"][STAT_LIVE_TRACES], 0)

    def test_late_child_of_a_finalized_trace_is_late_not_orphan_nor_broken(self):
        e = self.engine
        e.ingest([span(1, 1, 0, "gateway", "server")])
        e.now += 30 * SECOND
        self.assertEqual(lib.propwatch_engine_advance(e.handle), OK)
        e.ingest([span(1, 2, 1, "worker", "server")])
        e.now += 30 * SECOND
        snap = e.collect()
        self.assertEqual(self.counter(snap, "worker", LATE_SPANS), 1)
        self.assertEqual(self.counter(snap, "worker", ORPHAN_SPANS), 0)
        self.assertEqual(self.counter(snap, "worker", BROKEN_PARENTS), 0)

    def test_invalid_options_are_refused_with_a_message(self):
        bad = Engine(shards=5)
        self.assertEqual(bad.status, INVALID_ARGUMENT)
        self.assertIn("shards", bad.error)
        self.assertIn("power of two", bad.error)
        self.assertFalse(bad.handle)  # left NULL
        self.assertEqual(lib.propwatch_engine_create(None, None, None, 0), INVALID_ARGUMENT)
        self.assertEqual(lib.propwatch_engine_advance(None), INVALID_ARGUMENT)

    def test_a_cap_past_its_ceiling_is_refused_not_allocated(self):
        bad = Engine(max_traces=4_000_000_000)
        self.assertEqual(bad.status, INVALID_ARGUMENT)
        self.assertEqual(bad.error, "engine option max_traces: must be in [1, 100000000]")

    def test_null_string_with_a_length_refuses_the_batch(self):
        sp = span(1, 1, 0, "gateway", "server")
        sp.service_name = String(None, 5)
        arr = (Span * 2)(span(2, 2, 0, "gateway", "server"), sp)
        self.assertEqual(lib.propwatch_engine_ingest(self.engine.handle, arr, 2, None, None),
                         INVALID_ARGUMENT)
        self.assertEqual(self.engine.collect()["services"], {})  # nothing ingested
        ok = span(3, 3, 0, "gateway", "server")
        ok.name = String(None, 0)  # NULL with size 0 is an empty string
        self.assertEqual(self.engine.ingest([ok]), (1, 0))

    def test_version(self):
        version = lib.propwatch_version().decode()
        major, minor, patch = map(int, version.split("."))
        self.assertEqual(lib.propwatch_version_number(), major * 10000 + minor * 100 + patch)
        if EXPECTED_VERSION:
            self.assertEqual(version, EXPECTED_VERSION)


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0]], verbosity=2)
