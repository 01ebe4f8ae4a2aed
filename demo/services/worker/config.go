package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Fixes says which propagation boundaries run in their fixed form. The worker
// owns two of the demo's three boundaries; "http" is accepted (the driver
// passes one DEMO_FIXES to every service) but the HTTP bug lives in the
// gateway's client, so the worker's server side is identical in both modes.
type Fixes struct {
	HTTP  bool
	Async bool
	Kafka bool
}

func (f Fixes) String() string {
	return fmt.Sprintf("async=%t kafka=%t", f.Async, f.Kafka)
}

// ParseFixes parses DEMO_FIXES: a comma-separated subset of http,async,kafka,
// or "all"; empty (or "none") is the all-broken baseline. Unknown names are an
// error so that a typo cannot silently run the broken mode.
func ParseFixes(s string) (Fixes, error) {
	var f Fixes
	for _, tok := range strings.Split(s, ",") {
		switch strings.ToLower(strings.TrimSpace(tok)) {
		case "", "none":
		case "all":
			f = Fixes{HTTP: true, Async: true, Kafka: true}
		case "http":
			f.HTTP = true
		case "async":
			f.Async = true
		case "kafka":
			f.Kafka = true
		default:
			return Fixes{}, fmt.Errorf("DEMO_FIXES: unknown boundary %q (want a comma-separated subset of http,async,kafka, or all)", strings.TrimSpace(tok))
		}
	}
	return f, nil
}

// envPort reads a TCP port from the environment, falling back to def.
func envPort(name string, def int) (int, error) {
	v := strings.TrimSpace(os.Getenv(name))
	if v == "" {
		return def, nil
	}
	p, err := strconv.Atoi(v)
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("%s=%q: not a TCP port (1-65535)", name, v)
	}
	return p, nil
}

type config struct {
	fixes        Fixes
	listenAddr   string
	kafkaHost    string
	kafkaPort    int
	otlpEndpoint string
}

func loadConfig() (config, error) {
	var c config
	var err error
	if c.fixes, err = ParseFixes(os.Getenv("DEMO_FIXES")); err != nil {
		return c, err
	}
	workerPort, err := envPort("DEMO_WORKER_PORT", 18081)
	if err != nil {
		return c, err
	}
	c.listenAddr = fmt.Sprintf("127.0.0.1:%d", workerPort)
	if c.kafkaPort, err = envPort("DEMO_KAFKA_PORT", 19092); err != nil {
		return c, err
	}
	c.kafkaHost = "127.0.0.1"
	c.otlpEndpoint = strings.TrimSpace(os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT"))
	if c.otlpEndpoint == "" {
		c.otlpEndpoint = "http://127.0.0.1:14317"
	}
	return c, nil
}
