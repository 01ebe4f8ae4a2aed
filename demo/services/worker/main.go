// Command worker is the Go service of the propwatch demo: it accepts orders
// over HTTP, does the work on a goroutine pool and publishes each order to
// Kafka; it also runs long batch jobs (POST /batch) for the tail-sampling
// demo. Two trace-context boundaries (async, kafka) can each be run broken
// or fixed; see README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

func main() {
	log.SetPrefix("worker: ")
	log.SetFlags(log.LstdFlags | log.Lmicroseconds | log.Lmsgprefix)
	if err := run(); err != nil {
		log.Printf("fatal: %v", err)
		os.Exit(1)
	}
}

// newTracerProvider exports over OTLP/gRPC with a short batch delay so a
// request's spans leave within a second.
func newTracerProvider(ctx context.Context, endpoint string) (*sdktrace.TracerProvider, error) {
	var opt otlptracegrpc.Option
	if strings.Contains(endpoint, "://") {
		// http:// means plaintext, https:// means TLS.
		opt = otlptracegrpc.WithEndpointURL(endpoint)
	} else {
		opt = otlptracegrpc.WithEndpoint(endpoint)
	}
	opts := []otlptracegrpc.Option{opt}
	if !strings.HasPrefix(endpoint, "https://") {
		opts = append(opts, otlptracegrpc.WithInsecure())
	}
	// New does not dial eagerly; an absent collector only costs failed exports.
	exp, err := otlptracegrpc.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("OTLP exporter for %s: %w", endpoint, err)
	}
	res, err := resource.Merge(resource.Default(),
		resource.NewSchemaless(semconv.ServiceName("worker")))
	if err != nil {
		return nil, fmt.Errorf("resource: %w", err)
	}
	return sdktrace.NewTracerProvider(
		sdktrace.WithResource(res),
		sdktrace.WithBatcher(exp,
			sdktrace.WithBatchTimeout(200*time.Millisecond),
			sdktrace.WithMaxQueueSize(8192),
		),
	), nil
}

func run() error {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}

	ctx := context.Background()
	tp, err := newTracerProvider(ctx, cfg.otlpEndpoint)
	if err != nil {
		return err
	}
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Printf("otel: %v", err)
	}))

	broker := net.JoinHostPort(cfg.kafkaHost, strconv.Itoa(cfg.kafkaPort))
	prod, err := newKgoProducer(broker)
	if err != nil {
		tp.Shutdown(ctx)
		return fmt.Errorf("kafka client for %s: %w", broker, err)
	}

	w := NewWorker(Options{
		Fixes:      cfg.fixes,
		Producer:   prod,
		Tracer:     otel.GetTracerProvider(),
		Propagator: otel.GetTextMapPropagator(),
		KafkaHost:  cfg.kafkaHost,
		KafkaPort:  cfg.kafkaPort,
		Logger:     log.Default(),
	})

	ln, err := net.Listen("tcp", cfg.listenAddr)
	if err != nil {
		w.Drain(ctx)
		prod.Close(ctx)
		tp.Shutdown(ctx)
		return fmt.Errorf("listen %s: %w", cfg.listenAddr, err)
	}
	srv := &http.Server{
		Handler:           w.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	fmt.Printf("worker: listening on %s, fixes: %s\n", cfg.listenAddr, cfg.fixes)
	log.Printf("kafka broker %s topic %q, OTLP/gRPC %s", broker, topic, cfg.otlpEndpoint)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	var runErr error
	select {
	case s := <-sigs:
		log.Printf("%v: shutting down", s)
	case err := <-serveErr:
		runErr = fmt.Errorf("http server: %w", err)
	}
	signal.Stop(sigs)

	// Order matters: stop taking requests, finish the queued work (which
	// produces and ends spans) and abort the batch jobs (which ends theirs),
	// flush the producer, and only then flush the spans.
	step := func(name string, d time.Duration, f func(context.Context) error) {
		c, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		if err := f(c); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Printf("shutdown: %s: %v", name, err)
		}
	}
	step("http server", 5*time.Second, srv.Shutdown)
	step("work pool", 5*time.Second, w.Drain)
	step("kafka producer", 5*time.Second, prod.Close)
	step("tracer provider", 5*time.Second, tp.Shutdown)
	if runErr == nil {
		log.Printf("stopped")
	}
	return runErr
}
