#!/usr/bin/env python
"""Seconds from the first event to each stage boundary and each row with a number, from a `trt-tui run --json` stream."""
import json,sys
ev=[json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
t0=ev[0]["t"]
for e in ev:
    if e["type"] in ("stage_started","stage_finished","env","finished") or (e["type"]=="row" and e["row"].get("latency_p50_ms")):
        print(round(e["t"]-t0,2), e["type"], e.get("stage"), (e.get("row") or {}).get("status",""))
