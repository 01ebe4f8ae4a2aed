package main

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Producer is the one thing the deferred work needs from Kafka: send a record
// and wait for the broker's acknowledgement. On success the record's
// Partition and Offset are filled in. Tests substitute a fake.
type Producer interface {
	Produce(ctx context.Context, rec *kgo.Record) error
}

// kgoProducer is the real Producer over a franz-go client. It carries no
// tracing plugin on purpose: trace headers are written (or, in the broken
// mode, not written) by the worker's own code, so the bug stays visible.
type kgoProducer struct {
	cl *kgo.Client
}

func newKgoProducer(broker string) (*kgoProducer, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(broker),
		kgo.ClientID("worker"),
		// A request's record should leave at once, not wait for a batch.
		kgo.ProducerLinger(0),
		// Bound how long a record may sit in the client's buffer when the
		// broker is down, so pool goroutines are not held forever.
		kgo.RecordDeliveryTimeout(10*time.Second),
		kgo.MaxBufferedRecords(4096),
		// franz-go compresses with snappy by default; kafkajs (the Node
		// consumer) cannot decode snappy without an extra codec package.
		kgo.ProducerBatchCompression(kgo.NoCompression()),
	)
	if err != nil {
		return nil, err
	}
	return &kgoProducer{cl: cl}, nil
}

func (p *kgoProducer) Produce(ctx context.Context, rec *kgo.Record) error {
	return p.cl.ProduceSync(ctx, rec).FirstErr()
}

// Close flushes whatever is still buffered (bounded by ctx) and closes the
// client.
func (p *kgoProducer) Close(ctx context.Context) error {
	err := p.cl.Flush(ctx)
	p.cl.Close()
	return err
}

// headerCarrier adapts a record's headers to propagation.TextMapCarrier so
// that the global W3C propagator can write traceparent/tracestate into them.
type headerCarrier struct {
	rec *kgo.Record
}

func (c headerCarrier) Get(key string) string {
	for _, h := range c.rec.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// Set replaces an existing header of the same key, so re-injecting never
// leaves two conflicting traceparent headers on one record.
func (c headerCarrier) Set(key, value string) {
	for i := range c.rec.Headers {
		if c.rec.Headers[i].Key == key {
			c.rec.Headers[i].Value = []byte(value)
			return
		}
	}
	c.rec.Headers = append(c.rec.Headers, kgo.RecordHeader{Key: key, Value: []byte(value)})
}

func (c headerCarrier) Keys() []string {
	keys := make([]string, 0, len(c.rec.Headers))
	for _, h := range c.rec.Headers {
		keys = append(keys, h.Key)
	}
	return keys
}
