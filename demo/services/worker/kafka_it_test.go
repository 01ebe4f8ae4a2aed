package main

// Integration test against a real broker. Skipped unless DEMO_KAFKA_IT=1;
// the broker is 127.0.0.1:${DEMO_KAFKA_PORT:-19092} with topic "orders"
// (demo/kafka/start.sh creates both).
//
//   DEMO_KAFKA_IT=1 go test -run Kafka_IT -v ./...

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// capturingProducer forwards to the real client and keeps the acked record
// (whose Partition/Offset the client filled in).
type capturingProducer struct {
	inner Producer
	mu    sync.Mutex
	acked []*kgo.Record
}

func (p *capturingProducer) Produce(ctx context.Context, rec *kgo.Record) error {
	err := p.inner.Produce(ctx, rec)
	if err == nil {
		p.mu.Lock()
		p.acked = append(p.acked, rec)
		p.mu.Unlock()
	}
	return err
}

func TestKafka_IT(t *testing.T) {
	if os.Getenv("DEMO_KAFKA_IT") != "1" {
		t.Skip("set DEMO_KAFKA_IT=1 (and start demo/kafka/start.sh) to run against a broker")
	}
	port, err := envPort("DEMO_KAFKA_PORT", 19092)
	if err != nil {
		t.Fatal(err)
	}
	broker := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))

	for _, kafkaFixed := range []bool{false, true} {
		t.Run(fmt.Sprintf("kafka=%t", kafkaFixed), func(t *testing.T) {
			kc, err := newKgoProducer(broker)
			if err != nil {
				t.Fatal(err)
			}
			defer kc.Close(context.Background())
			prod := &capturingProducer{inner: kc}

			sr := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
			w := NewWorker(Options{
				Fixes: Fixes{Async: true, Kafka: kafkaFixed}, Producer: prod, Tracer: tp,
				Propagator: propagation.TraceContext{}, Logger: log.New(os.Stderr, "worker-it: ", 0),
			})
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := &http.Server{Handler: w.Handler()}
			go srv.Serve(ln)

			order := fmt.Sprintf("it-%t-%d", kafkaFixed, time.Now().UnixNano())
			resp, err := http.Post("http://"+ln.Addr().String()+"/orders", "application/json",
				strings.NewReader(`{"order": "`+order+`"}`))
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("POST status %d", resp.StatusCode)
			}
			srv.Shutdown(context.Background())
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := w.Drain(ctx); err != nil {
				t.Fatal(err)
			}
			if len(prod.acked) != 1 {
				var st []string
				for _, s := range sr.Ended() {
					st = append(st, s.Name()+": "+s.Status().Description)
				}
				t.Fatalf("acked %d records; spans: %v", len(prod.acked), st)
			}
			acked := prod.acked[0]
			var producerSpan trace.SpanContext
			for _, s := range sr.Ended() {
				if s.Name() == "orders publish" {
					producerSpan = s.SpanContext()
				}
			}

			// Read the record back from the broker at the acked offset.
			cons, err := kgo.NewClient(kgo.SeedBrokers(broker),
				kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
					topic: {acked.Partition: kgo.NewOffset().At(acked.Offset)},
				}))
			if err != nil {
				t.Fatal(err)
			}
			defer cons.Close()
			var got *kgo.Record
			for got == nil {
				fs := cons.PollFetches(ctx)
				if ctx.Err() != nil {
					t.Fatal("timed out reading the record back")
				}
				fs.EachError(func(tp string, p int32, err error) { t.Logf("fetch %s/%d: %v", tp, p, err) })
				fs.EachRecord(func(r *kgo.Record) {
					if got == nil && r.Offset == acked.Offset {
						got = r
					}
				})
			}
			var hs []string
			for _, h := range got.Headers {
				hs = append(hs, h.Key+"="+string(h.Value))
			}
			t.Logf("read back %s/%d@%d key=%q value=%q headers=%q",
				got.Topic, got.Partition, got.Offset, got.Key, got.Value, hs)
			if string(got.Key) != order || string(got.Value) != `{"order": "`+order+`"}` {
				t.Fatalf("key=%q value=%q", got.Key, got.Value)
			}
			sc := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), headerCarrier{got}))
			if kafkaFixed {
				if !sc.IsValid() || sc.TraceID() != producerSpan.TraceID() || sc.SpanID() != producerSpan.SpanID() {
					t.Fatalf("traceparent names %v, want PRODUCER %v", sc, producerSpan)
				}
			} else if len(got.Headers) != 0 {
				t.Fatalf("broken mode record carries headers %v", got.Headers)
			}
		})
	}
}
