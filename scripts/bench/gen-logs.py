#!/usr/bin/env python3
"""Make a reproducible log tree for the cleanup benchmark.

  gen-logs.py DIR [TOTAL_MB] [FILES]      default: 400 MB in 300 files

Access logs (nginx combined format) and application logs, sizes from a few KB to ~10 MB,
mtimes spread over the last 20 days with about 1 in 8 files written today (so "older than a
day" selects most, not all). Same seed, same tree."""
import os
import random
import sys
import time

out = sys.argv[1]
total = int(sys.argv[2]) if len(sys.argv) > 2 else 400
files = int(sys.argv[3]) if len(sys.argv) > 3 else 300
rng = random.Random(42)
paths = ["/api/v1/orders", "/api/v1/orders/{}", "/api/v1/catalog", "/static/app.{}.js", "/health", "/login", "/api/v1/plants/{}"]
agents = ["Mozilla/5.0 (X11; Linux x86_64)", "curl/7.88.1", "kube-probe/1.29", "Go-http-client/1.1"]
levels = ["INFO"] * 8 + ["WARN", "ERROR", "DEBUG"]

# Sizes: a long tail, scaled so the tree adds up to `total` MB.
weights = [rng.paretovariate(1.2) for _ in range(files)]
scale = total * 1024 * 1024 / sum(weights)
now = time.time()
os.makedirs(out, exist_ok=True)
for i, w in enumerate(weights):
    size = max(4096, int(w * scale))
    sub = ["nginx", "app", "worker", "billing"][i % 4]
    os.makedirs(os.path.join(out, sub), exist_ok=True)
    name = os.path.join(out, sub, f"{sub}-{i:03d}.log")
    lines = []
    n = 0
    while n < size:
        if sub == "nginx":
            ip = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}"
            p = rng.choice(paths).format(rng.randrange(100000))
            line = f'{ip} - - [20/Nov/2026:10:{rng.randrange(60):02d}:{rng.randrange(60):02d} +0000] "GET {p} HTTP/1.1" {rng.choice([200,200,200,304,404,500])} {rng.randrange(20000)} "-" "{rng.choice(agents)}"\n'
        else:
            line = f"2026-11-20T10:{rng.randrange(60):02d}:{rng.randrange(60):02d}.{rng.randrange(1000):03d}Z {rng.choice(levels)} [{sub}] order={rng.randrange(10**6)} took={rng.randrange(500)}ms user={rng.randrange(5000)} msg=\"processed request {p if sub == 'app' else 'job'}\"\n"
            p = rng.choice(paths).format(rng.randrange(1000))
        lines.append(line)
        n += len(line)
    with open(name, "w") as f:
        f.write("".join(lines))
    age_days = 0.2 if i % 8 == 0 else rng.uniform(1.5, 20)
    t = now - age_days * 86400
    os.utime(name, (t, t))
