#!/usr/bin/env python3
"""One line per `loadgen run` JSON report read from standard input."""
import json
import sys

for line in sys.stdin:
    line = line.strip()
    if not line.startswith("{"):
        continue
    r = json.loads(line)
    lat = r["latency_ms"]
    print("  %2d connections: %8.0f req/s  p50 %.2f ms  p99 %.2f ms  max %.1f ms  errors %s"
          % (r["connections"], r["requests_per_s"], lat["p50"], lat["p99"], lat["max"], r["errors"]))
