#!/usr/bin/env bash
# Checks the OpenTelemetry Collector configurations that docs/fleet.md
# ships (docs/collector/agent.yaml and gateway.yaml): both parse as YAML;
# every pipeline names only components that are defined, of types the
# collector has, and every defined component is used; the agent takes
# baton's OTLP/HTTP on 4318 and routes by trace id to the port the gateway
# listens on; the gateway's re-weighting multiplies by the inverse of the
# probabilistic policy it names. Then it breaks copies of the files in the
# ways these checks exist for and makes sure each break is caught.
set -euo pipefail
src=${BATON_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
if ! python3 -c 'import yaml' 2>/dev/null; then
  echo "collector_config_test: python3 cannot import yaml (Debian: python3-yaml; .ci/deps installs it)" >&2
  exit 1
fi
exec python3 - "$src/docs/collector/agent.yaml" "$src/docs/collector/gateway.yaml" <<'PY'
import copy
import re
import sys

import yaml

SECTIONS = ("receivers", "processors", "exporters")
# Component types the configurations may use (core and contrib names,
# including the newer spellings of renamed exporters).
KNOWN = {
    "receivers": {"otlp"},
    "processors": {"memory_limiter", "batch", "tail_sampling", "transform",
                   "probabilistic_sampler"},
    "exporters": {"otlp", "otlp_grpc", "otlphttp", "otlp_http", "loadbalancing",
                  "load_balancing", "debug"},
}
TOP = {"receivers", "processors", "exporters", "connectors", "extensions", "service"}


def ctype(name):
    return name.split("/", 1)[0]


def port_of(endpoint):
    m = re.search(r":(\d+)$", str(endpoint))
    return int(m.group(1)) if m else None


def structure(cfg, what):
    """Problems with the receivers/processors/exporters/service schema."""
    out = []
    if not isinstance(cfg, dict):
        return [f"{what}: not a mapping"]
    for k in cfg:
        if k not in TOP:
            out.append(f"{what}: unknown top-level key {k!r}")
    pipelines = (cfg.get("service") or {}).get("pipelines") or {}
    if not pipelines:
        out.append(f"{what}: service.pipelines is empty")
    used = {s: set() for s in SECTIONS}
    for pname, p in pipelines.items():
        if ctype(pname) not in ("traces", "metrics", "logs"):
            out.append(f"{what}: pipeline {pname!r} is not traces, metrics or logs")
        p = p or {}
        for s in SECTIONS:
            names = p.get(s) or []
            if s != "processors" and not names:
                out.append(f"{what}: pipeline {pname} has no {s}")
            for n in names:
                used[s].add(n)
                if n not in (cfg.get(s) or {}):
                    out.append(f"{what}: pipeline {pname} uses {s[:-1]} {n!r}, "
                               f"which is not defined under {s}")
        procs = p.get("processors") or []
        if "memory_limiter" in procs and procs[0] != "memory_limiter":
            out.append(f"{what}: pipeline {pname}: memory_limiter must come first")
    for s in SECTIONS:
        for n in (cfg.get(s) or {}):
            if ctype(n) not in KNOWN[s]:
                out.append(f"{what}: {s[:-1]} {n!r} is of no known type")
            if n not in used[s]:
                out.append(f"{what}: {s[:-1]} {n!r} is defined but no pipeline uses it")
    return out


def problems(agent, gateway):
    out = structure(agent, "agent") + structure(gateway, "gateway")
    if out:
        return out
    # The agent: baton's OTLP/HTTP in, by trace id to the gateways' port.
    http = (((agent["receivers"].get("otlp") or {}).get("protocols") or {})
            .get("http") or {})
    if port_of(http.get("endpoint", "")) != 4318:
        out.append("agent: the otlp receiver does not take OTLP/HTTP on port 4318")
    grpc = (((gateway["receivers"].get("otlp") or {}).get("protocols") or {})
            .get("grpc") or {})
    gport = port_of(grpc.get("endpoint", ""))
    if gport is None:
        out.append("gateway: the otlp receiver has no gRPC endpoint with a port")
    lbs = [v or {} for k, v in agent["exporters"].items()
           if ctype(k) in ("loadbalancing", "load_balancing")]
    if len(lbs) != 1:
        out.append("agent: wants exactly one loadbalancing exporter")
        return out
    lb = lbs[0]
    if lb.get("routing_key") != "traceID":
        out.append("agent: loadbalancing must route by traceID")
    if "otlp" not in (lb.get("protocol") or {}):
        out.append("agent: loadbalancing must speak otlp (gRPC) to the gateways")
    resolver = lb.get("resolver") or {}
    if len(resolver) != 1:
        out.append(f"agent: loadbalancing wants one resolver, has {sorted(resolver)}")
    for kind, r in resolver.items():
        r = r or {}
        if kind == "static":
            ports = [port_of(h) for h in r.get("hostnames") or []]
        elif kind == "dns":
            ports = [int(r.get("port", 4317))]
        elif kind == "k8s":
            ports = [int(p) for p in r.get("ports") or [4317]]
        else:
            out.append(f"agent: unknown resolver {kind!r}")
            continue
        if not ports or any(p != gport for p in ports):
            out.append(f"agent: sends to ports {ports}, the gateway listens on {gport}")
    # The gateway: tail sampling, then a re-weighting that names a
    # probabilistic policy and multiplies by 100 / its percentage.
    procs = gateway["service"]["pipelines"]["traces"].get("processors") or []
    if "tail_sampling" not in procs:
        out.append("gateway: the traces pipeline has no tail_sampling")
        return out
    policies = gateway["processors"]["tail_sampling"].get("policies") or []
    by_name = {p.get("name"): p for p in policies}
    if len(by_name) != len(policies):
        out.append("gateway: tail_sampling policy names are not unique")
    for i, p in enumerate(policies):
        if p.get("type") not in p:
            out.append(f"gateway: policy {p.get('name')!r} has no {p.get('type')!r} block")
        if p.get("type") == "probabilistic" and i != len(policies) - 1:
            out.append(f"gateway: probabilistic policy {p.get('name')!r} must come last "
                       "(the first matching policy is the one recorded)")
    reweights = [n for n in procs if ctype(n) == "transform"]
    if not reweights:
        out.append("gateway: no transform re-weights the traces tail sampling kept")
    for n in reweights:
        if procs.index(n) < procs.index("tail_sampling"):
            out.append(f"gateway: {n} runs before tail_sampling")
        stmts = [s for group in gateway["processors"][n].get("trace_statements") or []
                 for s in group.get("statements") or []]
        for s in stmts:
            pol = re.search(r'tailsampling\.policy"\]\s*==\s*"([^"]+)"', s)
            if not pol:
                out.append(f"gateway: {n}: statement names no policy: {s}")
                continue
            p = by_name.get(pol.group(1))
            if p is None or p.get("type") != "probabilistic":
                out.append(f"gateway: {n}: {pol.group(1)!r} is no probabilistic policy")
                continue
            mul = re.search(r'SampleRate"\]\)\s*\*\s*([0-9.]+)', s)
            if s.startswith("set(") and "SampleRate" in s:
                pct = float(p["probabilistic"]["sampling_percentage"])
                if not mul or abs(float(mul.group(1)) - 100.0 / pct) > 1e-9:
                    out.append(f"gateway: {n}: SampleRate must be multiplied by "
                               f"{100.0 / pct:g} for {pct:g}%: {s}")
    jaeger = [v or {} for k, v in gateway["exporters"].items()
              if ctype(k) in ("otlp", "otlp_grpc")]
    if not jaeger or port_of(jaeger[0].get("endpoint", "")) != 4317:
        out.append("gateway: no otlp exporter to Jaeger's OTLP/gRPC port 4317")
    return out


with open(sys.argv[1]) as f:
    agent = yaml.safe_load(f)
with open(sys.argv[2]) as f:
    gateway = yaml.safe_load(f)
found = problems(agent, gateway)
for p in found:
    print("FAIL", p)
if found:
    sys.exit(1)
print("ok: agent.yaml and gateway.yaml")


# Each break below must be caught, or the checks above check nothing.
def broken(change):
    a, g = copy.deepcopy(agent), copy.deepcopy(gateway)
    change(a, g)
    return problems(a, g)


def lb(a):
    return next(v for k, v in a["exporters"].items() if ctype(k).startswith("load"))


def stmts(g):
    return g["processors"]["transform/reweight"]["trace_statements"][0]["statements"]


breaks = {
    "undefined processor": lambda a, g: a["service"]["pipelines"]["traces"]["processors"].append("batch/2"),
    "unused exporter": lambda a, g: g["exporters"].update({"debug": {}}),
    "misspelt type": lambda a, g: g["processors"].update(
        {"tailsampling": g["processors"].pop("tail_sampling")}),
    "agent sends to the wrong port": lambda a, g: lb(a)["resolver"]["static"]["hostnames"].append("otel-gateway-3:4318"),
    "gateway moved its port": lambda a, g: g["receivers"]["otlp"]["protocols"]["grpc"].update(endpoint="0.0.0.0:4319"),
    "routing by service": lambda a, g: lb(a).update(routing_key="service"),
    "two resolvers": lambda a, g: lb(a)["resolver"].update(dns={"hostname": "gw", "port": 4317}),
    "percentage changed, factor not": lambda a, g: g["processors"]["tail_sampling"]["policies"][-1]["probabilistic"].update(sampling_percentage=5),
    "probabilistic policy first": lambda a, g: g["processors"]["tail_sampling"]["policies"].reverse(),
    "re-weighting a policy that does not exist": lambda a, g: stmts(g).__setitem__(0, stmts(g)[0].replace('"baseline"', '"base"')),
    "re-weighting before sampling": lambda a, g: g["service"]["pipelines"]["traces"].update(
        processors=["memory_limiter", "transform/reweight", "tail_sampling", "batch"]),
    "no OTLP/HTTP on 4318": lambda a, g: a["receivers"]["otlp"]["protocols"]["http"].update(endpoint="localhost:4319"),
}
missed = [name for name, change in breaks.items() if not broken(change)]
for name in missed:
    print("FAIL the checks do not catch:", name)
if missed:
    sys.exit(1)
print(f"ok: {len(breaks)} broken copies caught")
PY
