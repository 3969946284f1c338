"""Load check of the web calculator (issue 15): N concurrent POST /api/recommend on loopback against one uvicorn
worker; prints requests per second, errors and latency percentiles. A benchmark that prints, not a timed test.

    python benchmarks/web_load.py [--requests 200] [--concurrency 200]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import threading
import time

import httpx
import uvicorn

from sizing.web.app import create_app

BODIES = (
    {"model": "7b"},
    {"model": "qwen2.5-7b", "precision": "awq-int4", "users": 8},
    {"model": "llama-3-8b", "gpus_allowed": "rtx-4090,rtx-3090"},
    {"model": "14b", "form_factor": "rack"},
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _run(url: str, n: int, concurrency: int) -> tuple[list[float], int, float]:
    limit = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    errors = 0

    async with httpx.AsyncClient(timeout=600, limits=httpx.Limits(max_connections=concurrency)) as client:

        async def one(i: int) -> None:
            nonlocal errors
            async with limit:
                t = time.perf_counter()
                r = await client.post(url + "/api/recommend", json=BODIES[i % len(BODIES)])
                latencies.append(time.perf_counter() - t)
                if r.status_code != 200 or not r.json().get("options"):
                    errors += 1

        start = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return latencies, errors, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=200)
    args = ap.parse_args()
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(timeout_s=600), port=port, log_level="warning", workers=1))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    lat, errors, wall = asyncio.run(_run(f"http://127.0.0.1:{port}", args.requests, args.concurrency))
    server.should_exit = True
    q = statistics.quantiles(lat, n=20)
    print(f"requests: {args.requests} ({args.concurrency} concurrent, one uvicorn worker, loopback)")
    print(f"errors: {errors}")
    print(f"wall: {wall:.1f} s; {args.requests / wall:.1f} requests/s")
    print(f"latency: p50 {statistics.median(lat):.2f} s, p95 {q[18]:.2f} s, max {max(lat):.2f} s")


if __name__ == "__main__":
    main()
