package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// fakeProducer records what would have gone to Kafka.
type fakeProducer struct {
	mu      sync.Mutex
	records []*kgo.Record
	err     error
	block   chan struct{} // if non-nil, Produce waits on it (or ctx)
}

func (p *fakeProducer) Produce(ctx context.Context, rec *kgo.Record) error {
	if p.block != nil {
		select {
		case <-p.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if p.err != nil {
		return p.err
	}
	// The real client fails a record whose context is already done; in fixed
	// async mode that would be the request's cancellation leaking into the
	// deferred work.
	if err := ctx.Err(); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	rec.Partition = 0
	rec.Offset = int64(len(p.records))
	p.records = append(p.records, rec)
	return nil
}

func (p *fakeProducer) all() []*kgo.Record {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*kgo.Record(nil), p.records...)
}

type harness struct {
	t    *testing.T
	sr   *tracetest.SpanRecorder
	tp   *sdktrace.TracerProvider
	prod *fakeProducer
	w    *Worker
	srv  *httptest.Server
}

func newHarness(t *testing.T, fixes Fixes, prod *fakeProducer, pool, queue int) *harness {
	t.Helper()
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	if prod == nil {
		prod = &fakeProducer{}
	}
	w := NewWorker(Options{
		Fixes:      fixes,
		Producer:   prod,
		Tracer:     tp,
		Propagator: propagation.TraceContext{},
		PoolSize:   pool,
		QueueSize:  queue,
		Logger:     log.New(io.Discard, "", 0),
	})
	h := &harness{t: t, sr: sr, tp: tp, prod: prod, w: w, srv: httptest.NewServer(w.Handler())}
	t.Cleanup(func() {
		h.srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := w.Drain(ctx); err != nil {
			t.Errorf("drain: %v", err)
		}
		tp.Shutdown(context.Background())
	})
	return h
}

// The upstream caller's span context, as the fixed gateway would send it.
var upstream = trace.NewSpanContext(trace.SpanContextConfig{
	TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
	SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
	TraceFlags: trace.FlagsSampled,
	Remote:     true,
})

func (h *harness) post(body string, withParent bool) *http.Response {
	h.t.Helper()
	resp, _ := h.postTo("/orders", body, withParent)
	return resp
}

// postTo posts body to path and returns the response with its body read.
func (h *harness) postTo(path, body string, withParent bool) (*http.Response, []byte) {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if withParent {
		propagation.TraceContext{}.Inject(trace.ContextWithRemoteSpanContext(context.Background(), upstream),
			propagation.HeaderCarrier(req.Header))
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		h.t.Fatal(err)
	}
	return resp, data
}

// drain finishes all queued work so every span has ended.
func (h *harness) drain() {
	h.t.Helper()
	h.srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.w.Drain(ctx); err != nil {
		h.t.Fatalf("drain: %v", err)
	}
}

func (h *harness) span(name string) sdktrace.ReadOnlySpan {
	h.t.Helper()
	var found []sdktrace.ReadOnlySpan
	for _, s := range h.sr.Ended() {
		if s.Name() == name {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		h.t.Fatalf("want exactly 1 ended span %q, got %d (all: %v)", name, len(found), h.names())
	}
	return found[0]
}

func (h *harness) names() []string {
	var n []string
	for _, s := range h.sr.Ended() {
		n = append(n, s.Name()+"/"+s.SpanKind().String())
	}
	return n
}

// runOne posts one order with an upstream traceparent and returns the three
// worker spans after the deferred work has finished.
func runOne(t *testing.T, fixes Fixes) (h *harness, server, process, producer sdktrace.ReadOnlySpan) {
	h = newHarness(t, fixes, nil, 0, 0)
	if resp := h.post(`{"order": "o-1"}`, true); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /orders: status %d, want 202", resp.StatusCode)
	}
	h.drain()
	server = h.span("POST /orders")
	process = h.span("process order")
	producer = h.span("orders publish")
	if server.SpanKind() != trace.SpanKindServer || process.SpanKind() != trace.SpanKindInternal || producer.SpanKind() != trace.SpanKindProducer {
		t.Fatalf("span kinds: %v", h.names())
	}
	// The SERVER span continues the incoming trace in every mode.
	if server.Parent().SpanID() != upstream.SpanID() || server.SpanContext().TraceID() != upstream.TraceID() {
		t.Fatalf("SERVER span parent = %v, want upstream %v", server.Parent(), upstream)
	}
	// PRODUCER is a child of "process order" in every mode.
	if producer.Parent().SpanID() != process.SpanContext().SpanID() ||
		producer.SpanContext().TraceID() != process.SpanContext().TraceID() {
		t.Fatalf("PRODUCER parent = %v, want process order %v", producer.Parent().SpanID(), process.SpanContext().SpanID())
	}
	if producer.Status().Code == codes.Error {
		t.Fatalf("PRODUCER status error: %v", producer.Status())
	}
	return h, server, process, producer
}

func hasAttr(s sdktrace.ReadOnlySpan, key, val string) bool {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key && kv.Value.Emit() == val {
			return true
		}
	}
	return false
}

func TestAsyncFixedParentsOnServerSpan(t *testing.T) {
	_, server, process, _ := runOne(t, Fixes{Async: true})
	if !process.Parent().IsValid() {
		t.Fatal("process order is a root span; want child of the SERVER span")
	}
	if process.Parent().SpanID() != server.SpanContext().SpanID() {
		t.Fatalf("process order parent = %v, want SERVER %v", process.Parent().SpanID(), server.SpanContext().SpanID())
	}
	if process.SpanContext().TraceID() != server.SpanContext().TraceID() {
		t.Fatal("process order is in a different trace than the SERVER span")
	}
	if !hasAttr(process, "order.id", "o-1") {
		t.Fatalf("process order lacks order.id=o-1: %v", process.Attributes())
	}
}

func TestAsyncBrokenStartsNewTrace(t *testing.T) {
	_, server, process, _ := runOne(t, Fixes{})
	if process.Parent().IsValid() {
		t.Fatalf("process order has parent %v; broken mode must make it a root", process.Parent())
	}
	if process.SpanContext().TraceID() == server.SpanContext().TraceID() {
		t.Fatal("process order shares the SERVER span's trace in broken mode")
	}
}

// headerValue returns the values of key in rec's headers.
func headerValues(rec *kgo.Record, key string) []string {
	var v []string
	for _, h := range rec.Headers {
		if strings.EqualFold(h.Key, key) {
			v = append(v, string(h.Value))
		}
	}
	return v
}

func TestKafkaFixedInjectsProducerContext(t *testing.T) {
	for _, async := range []bool{true, false} {
		t.Run(map[bool]string{true: "async fixed", false: "async broken"}[async], func(t *testing.T) {
			h, _, _, producer := runOne(t, Fixes{Async: async, Kafka: true})
			recs := h.prod.all()
			if len(recs) != 1 {
				t.Fatalf("produced %d records, want 1", len(recs))
			}
			rec := recs[0]
			if rec.Topic != "orders" || string(rec.Key) != "o-1" || string(rec.Value) != `{"order": "o-1"}` {
				t.Fatalf("record topic=%q key=%q value=%q", rec.Topic, rec.Key, rec.Value)
			}
			tps := headerValues(rec, "traceparent")
			if len(tps) != 1 {
				t.Fatalf("want one traceparent header, got %q", tps)
			}
			// Parse it the way a consumer would.
			ctx := propagation.TraceContext{}.Extract(context.Background(), headerCarrier{rec})
			got := trace.SpanContextFromContext(ctx)
			if !got.IsValid() {
				t.Fatalf("traceparent %q is not valid W3C", tps[0])
			}
			want := producer.SpanContext()
			if got.TraceID() != want.TraceID() || got.SpanID() != want.SpanID() {
				t.Fatalf("traceparent %q names %s/%s, want PRODUCER span %s/%s",
					tps[0], got.TraceID(), got.SpanID(), want.TraceID(), want.SpanID())
			}
			if !got.IsSampled() {
				t.Fatalf("traceparent %q not sampled", tps[0])
			}
			if !hasAttr(producer, "messaging.system", "kafka") ||
				!hasAttr(producer, "messaging.destination.name", "orders") ||
				!hasAttr(producer, "messaging.operation.type", "send") {
				t.Fatalf("PRODUCER attributes: %v", producer.Attributes())
			}
			if producer.Status().Code == codes.Error {
				t.Fatalf("PRODUCER status error: %v", producer.Status())
			}
		})
	}
}

func TestKafkaBrokenHasNoTraceHeaders(t *testing.T) {
	h, _, _, _ := runOne(t, Fixes{Async: true})
	recs := h.prod.all()
	if len(recs) != 1 {
		t.Fatalf("produced %d records, want 1", len(recs))
	}
	if tps := headerValues(recs[0], "traceparent"); len(tps) != 0 {
		t.Fatalf("broken kafka mode wrote traceparent %q", tps)
	}
	if len(recs[0].Headers) != 0 {
		t.Fatalf("broken kafka mode wrote headers %v", recs[0].Headers)
	}
}

func TestProduceErrorMarksSpans(t *testing.T) {
	prod := &fakeProducer{err: errors.New("broker unreachable")}
	h := newHarness(t, Fixes{Async: true, Kafka: true}, prod, 0, 0)
	if resp := h.post(`{"order":"o-err"}`, false); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d, want 202", resp.StatusCode)
	}
	h.drain()
	if s := h.span("orders publish"); s.Status().Code != codes.Error || !strings.Contains(s.Status().Description, "broker unreachable") {
		t.Fatalf("PRODUCER status = %v, want Error", s.Status())
	}
	if s := h.span("process order"); s.Status().Code != codes.Error {
		t.Fatalf("process order status = %v, want Error", s.Status())
	}
}

func TestBadRequests(t *testing.T) {
	h := newHarness(t, Fixes{}, nil, 0, 0)
	for _, body := range []string{``, `not json`, `{"order": ""}`, `{"order": 7}`, `{}`,
		`{"order": "` + strings.Repeat("x", 300) + `"}`, `{"order": "` + strings.Repeat("x", 5000) + `"}`} {
		if resp := h.post(body, false); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("body %.40q: status %d, want 400", body, resp.StatusCode)
		}
	}
	resp, err := h.srv.Client().Get(h.srv.URL + "/orders")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /orders: status %d, want 405", resp.StatusCode)
	}
	h.drain()
	if n := len(h.prod.all()); n != 0 {
		t.Errorf("bad requests produced %d records", n)
	}
}

func TestHealthzNotTraced(t *testing.T) {
	h := newHarness(t, Fixes{}, nil, 0, 0)
	resp, err := h.srv.Client().Get(h.srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz status %d", resp.StatusCode)
	}
	h.drain()
	if n := h.names(); len(n) != 0 {
		t.Fatalf("healthz produced spans: %v", n)
	}
}

func TestQueueFullGives503(t *testing.T) {
	prod := &fakeProducer{block: make(chan struct{})}
	h := newHarness(t, Fixes{}, prod, 1, 1)
	// First job occupies the only goroutine; wait until it is inside Produce
	// so the next one really sits in the queue.
	if resp := h.post(`{"order":"a"}`, false); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("first: %d", resp.StatusCode)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(h.w.jobs) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("pool never picked up the first job")
		}
		time.Sleep(time.Millisecond)
	}
	if resp := h.post(`{"order":"b"}`, false); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("second: %d", resp.StatusCode)
	}
	if resp := h.post(`{"order":"c"}`, false); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("third: %d, want 503", resp.StatusCode)
	}
	close(prod.block)
	h.drain()
	if n := len(h.prod.all()); n != 2 {
		t.Fatalf("produced %d, want 2", n)
	}
}

func TestDrainTimeoutAbortsProduce(t *testing.T) {
	prod := &fakeProducer{block: make(chan struct{})} // never released
	h := newHarness(t, Fixes{}, prod, 2, 16)
	for i := 0; i < 5; i++ {
		if resp := h.post(`{"order":"stuck"}`, false); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	h.srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := h.w.Drain(ctx); err == nil {
		t.Fatal("drain of stuck work returned nil")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("drain took %v", d)
	}
	// All five jobs still ended their spans, with an error.
	n := 0
	for _, s := range h.sr.Ended() {
		if s.Name() == "orders publish" {
			n++
			if s.Status().Code != codes.Error {
				t.Errorf("aborted PRODUCER status %v", s.Status())
			}
		}
	}
	if n != 5 {
		t.Fatalf("%d PRODUCER spans ended, want 5", n)
	}
	// After drain, new work is refused rather than panicking on a closed channel.
	if err := h.w.enqueue(job{orderID: "late"}); !errors.Is(err, errShuttingDown) {
		t.Fatalf("enqueue after drain: %v", err)
	}
}

func TestHeaderCarrier(t *testing.T) {
	rec := &kgo.Record{Headers: []kgo.RecordHeader{{Key: "x", Value: []byte("1")}}}
	c := headerCarrier{rec}
	c.Set("traceparent", "a")
	c.Set("traceparent", "b")
	if got := c.Get("traceparent"); got != "b" {
		t.Fatalf("Get = %q", got)
	}
	if got := c.Get("missing"); got != "" {
		t.Fatalf("Get(missing) = %q", got)
	}
	if k := c.Keys(); len(k) != 2 || k[0] != "x" || k[1] != "traceparent" {
		t.Fatalf("Keys = %v", k)
	}
}

func TestParseFixes(t *testing.T) {
	cases := map[string]Fixes{
		"":                 {},
		"none":             {},
		"async":            {Async: true},
		"kafka":            {Kafka: true},
		" http , KAFKA ":   {HTTP: true, Kafka: true},
		"http,async,kafka": {HTTP: true, Async: true, Kafka: true},
		"all":              {HTTP: true, Async: true, Kafka: true},
	}
	for in, want := range cases {
		got, err := ParseFixes(in)
		if err != nil || got != want {
			t.Errorf("ParseFixes(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	if _, err := ParseFixes("async,kafak"); err == nil {
		t.Error("ParseFixes accepted a typo")
	}
	if got := (Fixes{Kafka: true}).String(); got != "async=false kafka=true" {
		t.Errorf("String = %q", got)
	}
}

func TestOrderValue(t *testing.T) {
	if got := string(orderValue(`a"b`)); got != `{"order": "a\"b"}` {
		t.Fatalf("orderValue = %s", got)
	}
	if !bytes.Equal(orderValue("o-1"), []byte(`{"order": "o-1"}`)) {
		t.Fatal("orderValue(o-1)")
	}
}

// spansNamed returns the ended spans called name, in the order they ended.
func (h *harness) spansNamed(name string) []sdktrace.ReadOnlySpan {
	var found []sdktrace.ReadOnlySpan
	for _, s := range h.sr.Ended() {
		if s.Name() == name {
			found = append(found, s)
		}
	}
	return found
}

// waitBatches waits until no batch job holds a slot, i.e. every job has
// finished and ended its spans (Drain would abort them instead).
func (h *harness) waitBatches() {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(h.w.batchSlots) != 0 {
		if time.Now().After(deadline) {
			h.t.Fatalf("batch jobs still running after 5s; ended: %v", h.names())
		}
		time.Sleep(time.Millisecond)
	}
}

// startBatch posts body to /batch with the upstream traceparent and expects
// the 202.
func (h *harness) startBatch(body string) {
	h.t.Helper()
	resp, data := h.postTo("/batch", body, true)
	if resp.StatusCode != http.StatusAccepted {
		h.t.Fatalf("POST /batch %s: status %d (%s), want 202", body, resp.StatusCode, data)
	}
}

func intAttr(s sdktrace.ReadOnlySpan, key string) (int64, bool) {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.AsInt64(), true
		}
	}
	return 0, false
}

func childOf(s, parent sdktrace.ReadOnlySpan) bool {
	return s.Parent().SpanID() == parent.SpanContext().SpanID() &&
		s.SpanContext().TraceID() == parent.SpanContext().TraceID()
}

func TestBatchSingleOneTrace(t *testing.T) {
	for _, async := range []bool{true, false} {
		t.Run(map[bool]string{true: "async fixed", false: "async broken"}[async], func(t *testing.T) {
			h := newHarness(t, Fixes{Async: async}, nil, 0, 0)
			resp, data := h.postTo("/batch", `{"job": "b-1", "duration_ms": 100, "shape": "single", "step_ms": 20}`, true)
			if resp.StatusCode != http.StatusAccepted || strings.TrimSpace(string(data)) != `{"job":"b-1","status":"started"}` {
				t.Fatalf("POST /batch: %d %s", resp.StatusCode, data)
			}
			h.waitBatches()
			server := h.span("POST /batch")
			job := h.span("batch job")
			if server.SpanKind() != trace.SpanKindServer || job.SpanKind() != trace.SpanKindInternal {
				t.Fatalf("span kinds: %v", h.names())
			}
			if server.Parent().SpanID() != upstream.SpanID() || !hasAttr(server, "job.id", "b-1") {
				t.Fatalf("SERVER span parent %v attributes %v", server.Parent(), server.Attributes())
			}
			if async && !childOf(job, server) {
				t.Fatalf("batch job parent = %v, want SERVER %v", job.Parent(), server.SpanContext())
			}
			if !async && (job.Parent().IsValid() || job.SpanContext().TraceID() == server.SpanContext().TraceID()) {
				t.Fatalf("broken mode: batch job parent = %v, want a root in a new trace", job.Parent())
			}
			if d, _ := intAttr(job, "batch.duration_ms"); d != 100 ||
				!hasAttr(job, "job.id", "b-1") || !hasAttr(job, "batch.shape", "single") {
				t.Fatalf("batch job attributes: %v", job.Attributes())
			}
			steps := h.spansNamed("batch step")
			if len(steps) != 5 {
				t.Fatalf("%d batch steps, want 5 (100 ms / 20 ms)", len(steps))
			}
			for i, s := range steps {
				if !childOf(s, job) || s.SpanKind() != trace.SpanKindInternal {
					t.Fatalf("step %d parent %v, want batch job %v", i, s.Parent(), job.SpanContext())
				}
				if n, ok := intAttr(s, "batch.step"); !ok || n != int64(i) {
					t.Fatalf("step %d: batch.step = %d, %t", i, n, ok)
				}
				if s.Status().Code == codes.Error || s.EndTime().After(job.EndTime()) {
					t.Fatalf("step %d: status %v, ends after the job", i, s.Status())
				}
			}
			// One trace spans the whole job.
			if d := job.EndTime().Sub(job.StartTime()); d < 100*time.Millisecond {
				t.Fatalf("batch job lasted %v, want >= 100ms", d)
			}
			if job.Status().Code == codes.Error {
				t.Fatalf("batch job status %v", job.Status())
			}
		})
	}
}

func TestBatchLinkedChunksAreLinkedRoots(t *testing.T) {
	for _, async := range []bool{true, false} {
		t.Run(map[bool]string{true: "async fixed", false: "async broken"}[async], func(t *testing.T) {
			h := newHarness(t, Fixes{Async: async}, nil, 0, 0)
			h.startBatch(`{"job": "b-2", "duration_ms": 100, "shape": "linked", "step_ms": 20, "chunk_ms": 40}`)
			h.waitBatches()
			server := h.span("POST /batch")
			job := h.span("batch job")
			if async && !childOf(job, server) {
				t.Fatalf("batch job parent = %v, want SERVER %v", job.Parent(), server.SpanContext())
			}
			if !async && job.Parent().IsValid() {
				t.Fatalf("broken mode: batch job parent = %v, want a root", job.Parent())
			}
			if n, _ := intAttr(job, "batch.chunks"); n != 3 || !hasAttr(job, "batch.shape", "linked") || !hasAttr(job, "job.id", "b-2") {
				t.Fatalf("batch job attributes: %v", job.Attributes())
			}
			chunks := h.spansNamed("batch chunk")
			if len(chunks) != 3 {
				t.Fatalf("%d batch chunks, want 3 (100 ms / 40 ms)", len(chunks))
			}
			// The job span only plans: it ends before the first chunk starts.
			if job.EndTime().After(chunks[0].StartTime()) {
				t.Fatal("batch job still open when the first chunk started")
			}
			traces := map[trace.TraceID]bool{job.SpanContext().TraceID(): true}
			steps := h.spansNamed("batch step")
			wantSteps := []int{2, 2, 1} // 40 ms, 40 ms, 20 ms of 20 ms steps
			for i, c := range chunks {
				if c.Parent().IsValid() || c.SpanKind() != trace.SpanKindInternal {
					t.Fatalf("chunk %d: parent %v kind %v, want an INTERNAL root", i, c.Parent(), c.SpanKind())
				}
				if traces[c.SpanContext().TraceID()] {
					t.Fatalf("chunk %d shares a trace with the job or another chunk", i)
				}
				traces[c.SpanContext().TraceID()] = true
				if l := c.Links(); len(l) != 1 || !l[0].SpanContext.Equal(job.SpanContext()) {
					t.Fatalf("chunk %d links %v, want one to batch job %v", i, l, job.SpanContext())
				}
				if n, ok := intAttr(c, "batch.chunk"); !ok || n != int64(i) || !hasAttr(c, "job.id", "b-2") {
					t.Fatalf("chunk %d attributes: %v", i, c.Attributes())
				}
				var mine []sdktrace.ReadOnlySpan
				for _, s := range steps {
					if childOf(s, c) {
						mine = append(mine, s)
					}
				}
				if len(mine) != wantSteps[i] {
					t.Fatalf("chunk %d has %d steps, want %d", i, len(mine), wantSteps[i])
				}
				for j, s := range mine {
					if n, _ := intAttr(s, "batch.step"); n != int64(j) || s.EndTime().After(c.EndTime()) {
						t.Fatalf("chunk %d step %d: batch.step %d, or ends after its chunk", i, j, n)
					}
				}
				// Every trace fits in chunk_ms (with slack for a slow host).
				if d := c.EndTime().Sub(c.StartTime()); d > 40*time.Millisecond+time.Second {
					t.Fatalf("chunk %d lasted %v", i, d)
				}
			}
			if len(steps) != 5 {
				t.Fatalf("%d batch steps, want 5", len(steps))
			}
		})
	}
}

func TestBatchDefaults(t *testing.T) {
	d := int64(25_000)
	b, err := batchBody{Job: "j", DurationMs: &d, Shape: "linked"}.validate()
	if err != nil {
		t.Fatal(err)
	}
	if b.step != time.Second || b.chunk != 10*time.Second || b.duration != 25*time.Second {
		t.Fatalf("defaults: %+v", b)
	}
}

func TestBatchBadRequests(t *testing.T) {
	h := newHarness(t, Fixes{}, nil, 0, 0)
	cases := map[string]string{ // body -> a word the error must name
		``:         "body must be JSON",
		`not json`: "body must be JSON",
		`{"duration_ms": 100, "shape": "single"}`:                                            `"job"`,
		`{"job": "", "duration_ms": 100, "shape": "single"}`:                                 `"job"`,
		`{"job": 7, "duration_ms": 100, "shape": "single"}`:                                  "body must be JSON",
		`{"job": "` + strings.Repeat("x", 300) + `", "duration_ms": 100, "shape": "single"}`: `"job"`,
		`{"job": "j", "shape": "single"}`:                                                    `"duration_ms"`,
		`{"job": "j", "duration_ms": 0, "shape": "single"}`:                                  `"duration_ms"`,
		`{"job": "j", "duration_ms": 600001, "shape": "single"}`:                             `"duration_ms"`,
		`{"job": "j", "duration_ms": 1.5, "shape": "single"}`:                                "body must be JSON",
		`{"job": "j", "duration_ms": "100", "shape": "single"}`:                              "body must be JSON",
		`{"job": "j", "duration_ms": 100}`:                                                   `"shape"`,
		`{"job": "j", "duration_ms": 100, "shape": "both"}`:                                  `"shape"`,
		`{"job": "j", "duration_ms": 100, "shape": "single", "step_ms": 9}`:                  `"step_ms"`,
		`{"job": "j", "duration_ms": 100, "shape": "single", "step_ms": 60001}`:              `"step_ms"`,
		`{"job": "j", "duration_ms": 100, "shape": "linked", "chunk_ms": 9}`:                 `"chunk_ms"`,
		`{"job": "j", "duration_ms": 100, "shape": "linked", "chunk_ms": 600001}`:            `"chunk_ms"`,
		`{"job": "` + strings.Repeat("x", 5000) + `"}`:                                       "body must be JSON",
	}
	for body, want := range cases {
		resp, data := h.postTo("/batch", body, false)
		var reply struct{ Error string }
		json.Unmarshal(data, &reply)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(reply.Error, want) {
			t.Errorf("body %.60q: %d %s, want 400 naming %s", body, resp.StatusCode, data, want)
		}
	}
	resp, err := h.srv.Client().Get(h.srv.URL + "/batch")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /batch: status %d, want 405", resp.StatusCode)
	}
	h.drain()
	if n := len(h.spansNamed("batch job")); n != 0 {
		t.Errorf("bad requests started %d batch jobs", n)
	}
}

func TestBatchBusyGives503(t *testing.T) {
	h := newHarness(t, Fixes{Async: true}, nil, 0, 0)
	long := `{"job": "long", "duration_ms": 600000, "shape": "single"}`
	for i := 0; i < maxBatchJobs; i++ {
		h.startBatch(long)
	}
	resp, data := h.postTo("/batch", long, false)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" ||
		!strings.Contains(string(data), "already running") {
		t.Fatalf("5th job: %d Retry-After=%q %s, want 503", resp.StatusCode, resp.Header.Get("Retry-After"), data)
	}
	// Batch jobs do not take the order pool.
	if resp := h.post(`{"order": "o-1"}`, false); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("order while batch jobs run: %d", resp.StatusCode)
	}
	h.drain()
	if n := len(h.prod.all()); n != 1 {
		t.Fatalf("produced %d, want 1", n)
	}
	refused := 0
	for _, s := range h.spansNamed("POST /batch") {
		if s.Status().Code == codes.Error {
			refused++
		}
	}
	if refused != 1 {
		t.Fatalf("%d SERVER spans in error, want 1 (the refused job)", refused)
	}
}

func TestDrainAbortsBatchJobs(t *testing.T) {
	h := newHarness(t, Fixes{Async: true}, nil, 0, 0)
	h.startBatch(`{"job": "s", "duration_ms": 600000, "shape": "single"}`)
	h.startBatch(`{"job": "l", "duration_ms": 600000, "shape": "linked"}`)
	// Wait until both jobs are inside a step.
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := 0
		for _, s := range h.sr.Started() {
			if s.Name() == "batch step" {
				n++
			}
		}
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("batch jobs never started a step")
		}
		time.Sleep(time.Millisecond)
	}
	h.srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := h.w.Drain(ctx); err != nil {
		t.Fatalf("drain: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("drain took %v", d)
	}
	if len(h.w.batchSlots) != 0 {
		t.Fatal("batch goroutines still hold slots after Drain")
	}
	aborted := func(s sdktrace.ReadOnlySpan) bool {
		return s.Status().Code == codes.Error && s.Status().Description == "aborted by shutdown"
	}
	// Every span that was opened has been ended: nothing left dangling.
	if started, ended := len(h.sr.Started()), len(h.sr.Ended()); started != ended {
		t.Fatalf("%d spans started, %d ended", started, ended)
	}
	for _, s := range h.spansNamed("batch job") {
		single := hasAttr(s, "batch.shape", "single")
		// The linked job span ended at planning time, before the abort.
		if aborted(s) != single {
			t.Errorf("batch job (single=%t) status %v", single, s.Status())
		}
	}
	if c := h.spansNamed("batch chunk"); len(c) != 1 || !aborted(c[0]) {
		t.Errorf("want one aborted batch chunk, got %d", len(c))
	}
	if s := h.spansNamed("batch step"); len(s) != 2 || !aborted(s[0]) || !aborted(s[1]) {
		t.Errorf("want two aborted batch steps, got %d", len(s))
	}
	// After Drain, new batch jobs are refused.
	rec := httptest.NewRecorder()
	h.w.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/batch",
		strings.NewReader(`{"job": "late", "duration_ms": 10, "shape": "single"}`)))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "shutting down") {
		t.Fatalf("batch after drain: %d %s", rec.Code, rec.Body)
	}
}

// The SERVER span carries the inbound traceparent as
// http.request.header.traceparent (string array), so propwatch can validate
// it; a request without the header gets no attribute.
func TestServerSpanCapturesTraceparent(t *testing.T) {
	for _, withParent := range []bool{true, false} {
		h := newHarness(t, Fixes{Async: true}, nil, 0, 0)
		if resp := h.post(`{"order": "o-1"}`, withParent); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("POST /orders: status %d", resp.StatusCode)
		}
		h.drain()
		var got []string
		found := false
		for _, kv := range h.span("POST /orders").Attributes() {
			if kv.Key == "http.request.header.traceparent" {
				found, got = true, kv.Value.AsStringSlice()
			}
		}
		want := "00-" + upstream.TraceID().String() + "-" + upstream.SpanID().String() + "-01"
		if withParent && (!found || len(got) != 1 || got[0] != want) {
			t.Fatalf("with a parent: captured %v (found %v), want [%s]", got, found, want)
		}
		if !withParent && found {
			t.Fatalf("without a traceparent header the span has the attribute: %v", got)
		}
	}
}

// The attributes propwatch pairs a broken edge on (docs/semantics.md "Broken
// edge"), present whether or not context arrived: the SERVER span says where
// the request was received (server.address, server.port as an int, from the
// Host header, as otelhttp records them) and the PRODUCER span where the
// message went (messaging.destination.name), so an orphan downstream can be
// traced back to this hop.
func TestEdgeAttributes(t *testing.T) {
	for _, withParent := range []bool{false, true} {
		h := newHarness(t, Fixes{}, nil, 0, 0)
		if resp := h.post(`{"order": "o-1"}`, withParent); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("POST /orders: status %d", resp.StatusCode)
		}
		wantPort := h.srv.Listener.Addr().(*net.TCPAddr).Port
		h.drain()
		server := h.span("POST /orders")
		var address string
		port := int64(-1)
		for _, kv := range server.Attributes() {
			switch kv.Key {
			case "server.address":
				address = kv.Value.AsString()
			case "server.port":
				if kv.Value.Type() != attribute.INT64 {
					t.Fatalf("server.port is a %v, want an int", kv.Value.Type())
				}
				port = kv.Value.AsInt64()
			}
		}
		if address != "127.0.0.1" || port != int64(wantPort) {
			t.Fatalf("SERVER span (parent sent: %v): server.address=%q server.port=%d, want 127.0.0.1:%d",
				withParent, address, port, wantPort)
		}
		if producer := h.span("orders publish"); !hasAttr(producer, "messaging.destination.name", "orders") {
			t.Fatalf("PRODUCER attributes: %v", producer.Attributes())
		}
	}
}
