package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

const (
	topic          = "orders"
	maxBodyBytes   = 4 << 10
	maxOrderIDLen  = 256
	produceTimeout = 15 * time.Second
)

// job is one unit of deferred work on the pool's channel.
//
// ctx is the async boundary. Broken mode leaves it nil: the job carries only
// the order id, as a hand-rolled worker queue typically does, and the trace
// context of the request that created the job is lost. Fixed mode sets it to
// context.WithoutCancel(request context).
type job struct {
	orderID string
	ctx     context.Context
}

// Options configures a Worker.
type Options struct {
	Fixes      Fixes
	Producer   Producer
	Tracer     trace.TracerProvider
	Propagator propagation.TextMapPropagator
	PoolSize   int // goroutines; default 4
	QueueSize  int // buffered jobs; default 1024
	// KafkaHost/KafkaPort only annotate the PRODUCER span (server.*).
	KafkaHost string
	KafkaPort int
	Logger    *log.Logger
}

// Worker is the HTTP handler plus the fixed-size goroutine pool that runs the
// deferred work (and the Kafka produce inside it).
type Worker struct {
	fixes    Fixes
	producer Producer
	tp       trace.TracerProvider
	tracer   trace.Tracer
	prop     propagation.TextMapPropagator
	kHost    string
	kPort    int
	log      *log.Logger

	mu     sync.RWMutex // guards closed; sends on jobs and batch starts vs. Drain
	closed bool
	jobs   chan job
	wg     sync.WaitGroup

	// abort is cancelled when a drain runs out of time: in-flight produces
	// give up at once and remaining jobs fail fast instead of each waiting
	// for the broker.
	abortCtx context.Context
	abort    context.CancelFunc

	// Batch jobs run on their own goroutines, at most maxBatchJobs at once
	// (a slot in batchSlots each; acquired under mu's read lock like an
	// enqueue). batchStopCtx is cancelled as soon as Drain starts: a job can
	// run for minutes, so shutdown aborts it rather than waiting.
	batchSlots   chan struct{}
	batches      sync.WaitGroup
	batchStopCtx context.Context
	batchStop    context.CancelFunc
}

// NewWorker starts the pool goroutines. Stop them with Drain.
func NewWorker(o Options) *Worker {
	if o.PoolSize <= 0 {
		o.PoolSize = 4
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 1024
	}
	if o.Logger == nil {
		o.Logger = log.Default()
	}
	w := &Worker{
		fixes:    o.Fixes,
		producer: o.Producer,
		tp:       o.Tracer,
		tracer:   o.Tracer.Tracer("propwatch.invalid/demo/worker"),
		prop:     o.Propagator,
		kHost:    o.KafkaHost,
		kPort:    o.KafkaPort,
		log:      o.Logger,
		jobs:     make(chan job, o.QueueSize),

		batchSlots: make(chan struct{}, maxBatchJobs),
	}
	w.abortCtx, w.abort = context.WithCancel(context.Background())
	w.batchStopCtx, w.batchStop = context.WithCancel(context.Background())
	w.wg.Add(o.PoolSize)
	for i := 0; i < o.PoolSize; i++ {
		go w.loop()
	}
	return w
}

// Handler returns the worker's HTTP routes. POST /orders and POST /batch are
// wrapped in the official otelhttp server instrumentation, which extracts the
// incoming traceparent and starts the SERVER span; /healthz is not traced.
func (w *Worker) Handler() http.Handler {
	mux := http.NewServeMux()
	traced := func(h http.HandlerFunc, name string) http.Handler {
		return otelhttp.NewHandler(captureTraceparent(h), name,
			otelhttp.WithTracerProvider(w.tp),
			otelhttp.WithPropagators(w.prop),
			otelhttp.WithSpanNameFormatter(func(op string, _ *http.Request) string { return op }),
		)
	}
	mux.Handle("POST /orders", traced(w.postOrder, "POST /orders"))
	mux.Handle("POST /batch", traced(w.postBatch, "POST /batch"))
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(rw, "ok\n")
	})
	return mux
}

// captureTraceparent records the inbound traceparent header values on the
// SERVER span as http.request.header.traceparent (the HTTP semantic
// conventions' header attribute), so propwatch can validate them and tell a
// header that arrived but was not extracted (docs/capturing-traceparent.md).
// otelhttp has no option for it; it runs inside otelhttp's handler, where the
// request context holds the SERVER span.
func captureTraceparent(h http.HandlerFunc) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		if values := r.Header.Values("traceparent"); len(values) > 0 {
			trace.SpanFromContext(r.Context()).SetAttributes(
				attribute.StringSlice("http.request.header.traceparent", values))
		}
		h(rw, r)
	}
}

type orderBody struct {
	Order string `json:"order"`
}

func writeJSON(rw http.ResponseWriter, status int, v any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	json.NewEncoder(rw).Encode(v)
}

func (w *Worker) postOrder(rw http.ResponseWriter, r *http.Request) {
	var body orderBody
	dec := json.NewDecoder(http.MaxBytesReader(rw, r.Body, maxBodyBytes))
	if err := dec.Decode(&body); err != nil {
		writeJSON(rw, http.StatusBadRequest, map[string]string{"error": "body must be JSON {\"order\": \"<id>\"}: " + err.Error()})
		return
	}
	if body.Order == "" || len(body.Order) > maxOrderIDLen {
		writeJSON(rw, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("\"order\" must be a non-empty string of at most %d bytes", maxOrderIDLen)})
		return
	}
	trace.SpanFromContext(r.Context()).SetAttributes(attribute.String("order.id", body.Order))

	j := job{orderID: body.Order}
	if w.fixes.Async {
		// FIX (async): hand the request's context to the deferred work so its
		// span is a child of this SERVER span. WithoutCancel keeps the values
		// (the span context) but drops the cancellation: net/http cancels
		// r.Context() as soon as this handler returns the 202, which would
		// otherwise abort the still-queued work and its Kafka produce.
		j.ctx = context.WithoutCancel(r.Context())
	}
	// BROKEN (async): j.ctx stays nil; the job carries only the order id.

	if err := w.enqueue(j); err != nil {
		span := trace.SpanFromContext(r.Context())
		span.SetStatus(codes.Error, err.Error())
		rw.Header().Set("Retry-After", "1")
		writeJSON(rw, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(rw, http.StatusAccepted, map[string]string{"order": body.Order, "status": "queued"})
}

var (
	errQueueFull    = errors.New("work queue full")
	errShuttingDown = errors.New("worker shutting down")
)

// enqueue never blocks: a full queue is reported to the caller (503) rather
// than holding the HTTP handler, which keeps memory bounded.
func (w *Worker) enqueue(j job) error {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return errShuttingDown
	}
	select {
	case w.jobs <- j:
		return nil
	default:
		return errQueueFull
	}
}

func (w *Worker) loop() {
	defer w.wg.Done()
	for j := range w.jobs {
		w.process(j)
	}
}

// process is the deferred work: INTERNAL span "process order", and inside it
// the Kafka produce.
func (w *Worker) process(j job) {
	parent := j.ctx
	if parent == nil {
		// BROKEN (async): nothing to parent on, so this span starts a new
		// trace — the orphan propwatch is meant to detect.
		parent = context.Background()
	}
	ctx, span := w.tracer.Start(parent, "process order",
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(attribute.String("order.id", j.orderID)),
	)
	defer span.End()

	if err := w.publish(ctx, j.orderID); err != nil {
		span.SetStatus(codes.Error, "publish failed: "+err.Error())
		w.log.Printf("order %q: publish to topic %q failed: %v", j.orderID, topic, err)
	}
}

// orderValue renders the message value exactly as the contract spells it:
// {"order": "<id>"}.
func orderValue(id string) []byte {
	q, _ := json.Marshal(id) // a Go string always marshals
	return append(append([]byte(`{"order": `), q...), '}')
}

// publish produces the order to Kafka under a PRODUCER span and waits for the
// broker's ack before ending the span.
func (w *Worker) publish(ctx context.Context, orderID string) error {
	ctx, span := w.tracer.Start(ctx, topic+" publish",
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			semconv.MessagingSystemKafka,
			semconv.MessagingDestinationName(topic),
			semconv.MessagingOperationTypeSend,
			semconv.MessagingOperationName("publish"),
			semconv.MessagingKafkaMessageKey(orderID),
		),
	)
	defer span.End()
	if w.kHost != "" {
		span.SetAttributes(semconv.ServerAddress(w.kHost), semconv.ServerPort(w.kPort))
	}

	rec := &kgo.Record{Topic: topic, Key: []byte(orderID), Value: orderValue(orderID)}
	if w.fixes.Kafka {
		// FIX (kafka): write this PRODUCER span's W3C context (traceparent,
		// tracestate) into the record headers so the consumer can continue
		// the trace.
		w.prop.Inject(ctx, headerCarrier{rec})
	}
	// BROKEN (kafka): the record leaves with no headers at all.

	// Bounded wait for the ack; also abandoned at once if a shutdown drain
	// runs out of time.
	pctx, cancel := context.WithTimeout(ctx, produceTimeout)
	defer cancel()
	stop := context.AfterFunc(w.abortCtx, cancel)
	defer stop()

	err := w.abortCtx.Err()
	if err != nil {
		err = errShuttingDown
	} else {
		err = w.producer.Produce(pctx, rec)
		if err != nil && w.abortCtx.Err() != nil {
			err = fmt.Errorf("aborted by shutdown: %w", err)
		}
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		return err
	}
	span.SetAttributes(
		semconv.MessagingDestinationPartitionID(strconv.Itoa(int(rec.Partition))),
		semconv.MessagingKafkaOffset(int(rec.Offset)),
	)
	return nil
}

// Drain stops accepting jobs, aborts the running batch jobs and waits for the
// queued orders to finish. If ctx ends first, in-flight and remaining
// produces are aborted and Drain still waits for the (now fast) goroutines to
// exit, so none leak; it then returns ctx's error. Call once the HTTP server
// has stopped; further enqueues and batch jobs get 503.
func (w *Worker) Drain(ctx context.Context) error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.jobs)
	}
	w.mu.Unlock()
	w.batchStop()

	done := make(chan struct{})
	go func() { w.wg.Wait(); w.batches.Wait(); close(done) }()
	select {
	case <-done:
		w.abort()
		return nil
	case <-ctx.Done():
		w.abort()
		<-done
		return fmt.Errorf("drain: %w (remaining jobs were aborted)", ctx.Err())
	}
}
