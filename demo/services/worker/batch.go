package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// POST /batch: a long-running job, to show how tail sampling treats a trace
// that lasts longer than its decision_wait. Shape "single" keeps the whole
// job in one trace; shape "linked" cuts it into chunks, each a new trace
// linked to the request's, so that every trace fits in chunk_ms.

const (
	shapeSingle = "single"
	shapeLinked = "linked"

	// Bounded in time and in number, so a demo script cannot pile up
	// goroutines.
	maxBatchJobs        = 4
	maxBatchDurationMs  = 600_000
	defaultBatchStepMs  = 1_000
	minBatchStepMs      = 10
	maxBatchStepMs      = 60_000
	defaultBatchChunkMs = 10_000
	minBatchChunkMs     = 10
	maxBatchChunkMs     = 600_000
)

var (
	errBatchBusy    = fmt.Errorf("%d batch jobs already running", maxBatchJobs)
	errBatchAborted = errors.New("aborted by shutdown")
)

// batchBody is the request body; pointers tell a missing number from zero.
type batchBody struct {
	Job        string `json:"job"`
	DurationMs *int64 `json:"duration_ms"`
	Shape      string `json:"shape"`
	StepMs     *int64 `json:"step_ms"`
	ChunkMs    *int64 `json:"chunk_ms"`
}

// batchJob is a validated batch body.
type batchJob struct {
	id       string
	shape    string
	duration time.Duration
	step     time.Duration
	chunk    time.Duration // linked only
}

// msOr returns *v, or def when the field was left out, checked against
// [lo, hi].
func msOr(name string, v *int64, def, lo, hi int64) (int64, error) {
	if v == nil {
		return def, nil
	}
	if *v < lo || *v > hi {
		return 0, fmt.Errorf("%q must be a whole number of milliseconds, %d..%d", name, lo, hi)
	}
	return *v, nil
}

func (b batchBody) validate() (batchJob, error) {
	if b.Job == "" || len(b.Job) > maxOrderIDLen {
		return batchJob{}, fmt.Errorf("\"job\" must be a non-empty string of at most %d bytes", maxOrderIDLen)
	}
	if b.DurationMs == nil {
		return batchJob{}, fmt.Errorf("\"duration_ms\" is required: a whole number of milliseconds, 1..%d", maxBatchDurationMs)
	}
	duration, err := msOr("duration_ms", b.DurationMs, 0, 1, maxBatchDurationMs)
	if err != nil {
		return batchJob{}, err
	}
	if b.Shape != shapeSingle && b.Shape != shapeLinked {
		return batchJob{}, fmt.Errorf("\"shape\" must be %q or %q", shapeSingle, shapeLinked)
	}
	step, err := msOr("step_ms", b.StepMs, defaultBatchStepMs, minBatchStepMs, maxBatchStepMs)
	if err != nil {
		return batchJob{}, err
	}
	chunk, err := msOr("chunk_ms", b.ChunkMs, defaultBatchChunkMs, minBatchChunkMs, maxBatchChunkMs)
	if err != nil {
		return batchJob{}, err
	}
	return batchJob{
		id:       b.Job,
		shape:    b.Shape,
		duration: time.Duration(duration) * time.Millisecond,
		step:     time.Duration(step) * time.Millisecond,
		chunk:    time.Duration(chunk) * time.Millisecond,
	}, nil
}

func (w *Worker) postBatch(rw http.ResponseWriter, r *http.Request) {
	var body batchBody
	dec := json.NewDecoder(http.MaxBytesReader(rw, r.Body, maxBodyBytes))
	if err := dec.Decode(&body); err != nil {
		writeJSON(rw, http.StatusBadRequest, map[string]string{"error": `body must be JSON {"job": "<id>", "duration_ms": N, "shape": "single"|"linked"} (optional "step_ms", "chunk_ms"): ` + err.Error()})
		return
	}
	b, err := body.validate()
	if err != nil {
		writeJSON(rw, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	trace.SpanFromContext(r.Context()).SetAttributes(attribute.String("job.id", b.id))

	// BROKEN (async): as with the order pool, the job's goroutine starts
	// from context.Background() and the request's trace context is lost.
	parent := context.Background()
	if w.fixes.Async {
		// FIX (async): same boundary as orders. WithoutCancel keeps the
		// SERVER span but not the request's cancellation, which fires as
		// soon as the 202 is written.
		parent = context.WithoutCancel(r.Context())
	}

	if err := w.startBatch(parent, b); err != nil {
		span := trace.SpanFromContext(r.Context())
		span.SetStatus(codes.Error, err.Error())
		rw.Header().Set("Retry-After", "1")
		writeJSON(rw, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(rw, http.StatusAccepted, map[string]string{"job": b.id, "status": "started"})
}

// startBatch never blocks: with every slot taken the caller gets a 503
// instead of a queue. The read lock orders it against Drain, so a job is
// either counted in w.batches before Drain waits or refused.
func (w *Worker) startBatch(parent context.Context, b batchJob) error {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return errShuttingDown
	}
	select {
	case w.batchSlots <- struct{}{}:
	default:
		return errBatchBusy
	}
	w.batches.Add(1)
	go w.runBatch(parent, b)
	return nil
}

func (w *Worker) runBatch(parent context.Context, b batchJob) {
	defer w.batches.Done()
	defer func() { <-w.batchSlots }()

	// parent carries only the span; the cancellation comes from Drain.
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	stop := context.AfterFunc(w.batchStopCtx, cancel)
	defer stop()

	w.log.Printf("batch job %q: started, shape %s, %v", b.id, b.shape, b.duration)
	start := time.Now()
	var err error
	if b.shape == shapeSingle {
		err = w.batchSingle(ctx, b)
	} else {
		err = w.batchLinked(ctx, b)
	}
	if err != nil {
		w.log.Printf("batch job %q: %v after %v", b.id, err, time.Since(start).Round(time.Millisecond))
		return
	}
	w.log.Printf("batch job %q: done in %v", b.id, time.Since(start).Round(time.Millisecond))
}

// batchSingle keeps the whole job in one trace: "batch job" lasts as long as
// all its steps.
func (w *Worker) batchSingle(ctx context.Context, b batchJob) error {
	ctx, span := w.tracer.Start(ctx, "batch job",
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(
			attribute.String("job.id", b.id),
			attribute.String("batch.shape", shapeSingle),
			attribute.Int64("batch.duration_ms", b.duration.Milliseconds()),
		),
	)
	err := w.batchSteps(ctx, b.duration, b.step)
	endBatchSpan(span, err)
	return err
}

// batchLinked ends "batch job" once the work is planned and runs each chunk
// as a new trace linked back to it, so no trace lasts longer than chunk_ms.
func (w *Worker) batchLinked(ctx context.Context, b batchJob) error {
	chunks := int((b.duration + b.chunk - 1) / b.chunk)
	_, span := w.tracer.Start(ctx, "batch job",
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(
			attribute.String("job.id", b.id),
			attribute.String("batch.shape", shapeLinked),
			attribute.Int64("batch.duration_ms", b.duration.Milliseconds()),
			attribute.Int("batch.chunks", chunks),
		),
	)
	link := trace.Link{SpanContext: span.SpanContext()}
	span.End()

	left := b.duration
	for i := 0; i < chunks; i++ {
		d := min(b.chunk, left)
		cctx, cspan := w.tracer.Start(ctx, "batch chunk",
			trace.WithNewRoot(),
			trace.WithLinks(link),
			trace.WithSpanKind(trace.SpanKindInternal),
			trace.WithAttributes(
				attribute.String("job.id", b.id),
				attribute.Int("batch.chunk", i),
			),
		)
		err := w.batchSteps(cctx, d, b.step)
		endBatchSpan(cspan, err)
		if err != nil {
			return err
		}
		left -= d
	}
	return nil
}

// batchSteps runs "batch step" spans back to back under ctx's span, each
// lasting step (the last one shorter if needed) until d is used up. The count
// is planned, not timed, so it is ceil(d/step) however slow the host is.
func (w *Worker) batchSteps(ctx context.Context, d, step time.Duration) error {
	for i := 0; d > 0; i++ {
		n := min(step, d)
		_, span := w.tracer.Start(ctx, "batch step",
			trace.WithSpanKind(trace.SpanKindInternal),
			trace.WithAttributes(attribute.Int("batch.step", i)),
		)
		err := sleepCtx(ctx, n)
		endBatchSpan(span, err)
		if err != nil {
			return err
		}
		d -= n
	}
	return nil
}

// sleepCtx stands in for the work: d, or errBatchAborted once ctx is
// cancelled (only Drain cancels a batch job's context).
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return errBatchAborted
	}
}

func endBatchSpan(span trace.Span, err error) {
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
