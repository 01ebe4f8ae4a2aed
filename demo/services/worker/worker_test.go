package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
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
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+"/orders", strings.NewReader(body))
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
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
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
