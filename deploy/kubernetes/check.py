"""Structural checks of deploy/kubernetes/ that a schema cannot make: the
pieces agree with each other and with the binaries. Run by validate.sh.

  check.py PROPWATCH_BINARY OTELCOL_BINARY
"""
import os
import subprocess
import sys
import tempfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def docs(name):
    with open(os.path.join(HERE, name)) as f:
        return {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(f) if d}


def main():
    propwatch, otelcol = sys.argv[1], sys.argv[2]
    taps = docs("propwatch-taps.yaml")
    lb = docs("collector-loadbalancer.yaml")
    conf_text = taps[("ConfigMap", "propwatch")]["data"]["propwatch.conf"]
    conf = {}
    for line in conf_text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            k, v = (s.strip() for s in line.split("=", 1))
            conf[k] = v
    svc = taps[("Service", "propwatch-taps")]
    sts = taps[("StatefulSet", "propwatch")]
    pod = sts["spec"]["template"]
    container = pod["spec"]["containers"][0]

    # The tap's config: every key a real flag, and the binary accepts it.
    usage = subprocess.run([propwatch, "--help"], capture_output=True, text=True).stdout
    unknown = [k for k in conf if f"--{k}" not in usage]
    check(not unknown, f"propwatch.conf keys are tap flags (unknown: {unknown})")
    with tempfile.NamedTemporaryFile("w", suffix=".conf") as f:
        # Same settings on loopback ephemeral ports; --fleet-dns=localhost so
        # the lookup works without the cluster. The tap must start and be ready.
        f.write(conf_text)
        f.flush()
        p = subprocess.Popen([propwatch, f"--config={f.name}", "--otlp-grpc-address=127.0.0.1:0",
                              "--admin-address=127.0.0.1:0", "--fleet-dns=localhost"],
                             stderr=subprocess.PIPE, text=True)
        line = ""
        for line in p.stderr:
            if "listening:" in line or " error " in line.lower():
                break
        p.terminate()
        p.wait(timeout=20)
        check("listening:" in line, f"the tap starts with propwatch.conf ({line.strip()})")

    # One name for the fleet: Service FQDN = --fleet-dns = collector's resolver.
    fqdn = f"{svc['metadata']['name']}.{svc['metadata']['namespace']}.svc.cluster.local"
    check(svc["spec"].get("clusterIP") == "None", "the taps' Service is headless")
    check(sts["spec"]["serviceName"] == svc["metadata"]["name"], "StatefulSet serviceName = Service")
    check(conf.get("fleet-dns") == fqdn, f"fleet-dns = {fqdn}")
    lb_conf = yaml.safe_load(lb[("ConfigMap", "otel-loadbalancer")]["data"]["config.yaml"])
    exporter = lb_conf["exporters"]["load_balancing/propwatch"]
    resolver = exporter["resolver"]["dns"]
    check(resolver["hostname"] == fqdn, "collector dns resolver hostname = the taps' Service")
    check(exporter["routing_key"] == "traceID", "routing_key is traceID")
    grpc_port = conf["otlp-grpc-address"].rsplit(":", 1)[1]
    svc_ports = {p["name"]: p["port"] for p in svc["spec"]["ports"]}
    check(str(resolver["port"]) == grpc_port == str(svc_ports["otlp-grpc"]),
          "resolver port = otlp-grpc-address port = Service port")
    check(resolver.get("interval") == conf.get("fleet-dns-interval"),
          "collector resolver interval = the taps' fleet-dns-interval")
    with open(os.path.join(HERE, "..", "collector", "loadbalancer-dns.yaml")) as f:
        ref = yaml.safe_load(f)["exporters"]["load_balancing/propwatch"]
    check(ref == exporter, "the ConfigMap's exporter = deploy/collector/loadbalancer-dns.yaml's")
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        yaml.safe_dump(lb_conf, f)
        f.flush()
        r = subprocess.run([otelcol, "validate", f"--config={f.name}"], capture_output=True, text=True)
        check(r.returncode == 0, f"the collector accepts the ConfigMap's config {r.stderr[-300:]}")

    # Probes, scraping and the drain.
    admin_port = conf["admin-address"].rsplit(":", 1)[1]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    check(str(ports["admin"]) == admin_port, "container admin port = admin-address")
    check(container["readinessProbe"]["httpGet"]["path"] == "/readyz", "readiness probe /readyz")
    check(container["livenessProbe"]["httpGet"]["path"] == "/healthz", "liveness probe /healthz")
    ann = pod["metadata"]["annotations"]
    check(ann.get("prometheus.io/scrape") == "true" and ann.get("prometheus.io/port") == admin_port,
          "scrape annotations name the admin port")
    check(pod["spec"]["terminationGracePeriodSeconds"] > 10,
          "grace period covers the tap's 10 s drain")
    check("memory" in container["resources"]["limits"], "a memory limit is set")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
