// Counts global operator new calls in the test binary that links
// alloc_counter.cc (which replaces the global allocation functions), so tests
// can assert that a code path does not allocate. Thread-safe.
#pragma once

namespace propwatch::otlp::test_util {

// Number of operator new / new[] calls so far.
long AllocationCount();

}  // namespace propwatch::otlp::test_util
