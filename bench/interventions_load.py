"""Throughput and latency of POST /api/v1/interventions beside bare Django JSON views.

    .venv/bin/python bench/interventions_load.py [--duration 10] [--repeat 3] [--workers 3]

One gunicorn on loopback (PostgreSQL + Redis), every endpoint measured in the same run with
the same server settings:
  1. maximum throughput (closed loop, wrk if installed: the script installs it with apt when
     it can; otherwise Python threads with keep-alive connections) of the bare view, the bare
     view committing one row before it answers (/bench/bare-write: the floor for an endpoint
     that must commit before it answers), a bare view committing one exposure row through the
     intervention path's group writer and doing nothing else (/bench/group-write: what sharing
     commits buys by itself) and the intervention endpoint, in turn, `--repeat` times; the
     ratios are the medians of the rounds (the machine may be shared);
  2. latency at half of the intervention endpoint's (median) maximum (open loop at a fixed
     rate, latency measured from each request's scheduled start, so queueing is counted).
Every intervention request carries a new session id, so each one takes the full path:
pseudonymise, match, assign, cap check, exposure insert (committed before the answer), render,
signed links. Also printed: CPU time per request of the web workers and of their PostgreSQL
backends, which moves less with other load than throughput does, and WAL flushes per request
(pg_stat_wal.wal_sync, cluster-wide), which shows what sharing commits saves.
Targets (issue 15): interventions >= 1.0x the bare-write view's throughput; p99 < 25 ms at half
of the intervention endpoint's maximum.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from _interventions_env import Server, ensure_database, seed, table

BODY = ('{"trigger":"search_blocked_term","country":"GB","language":"en-GB",'
        '"session_id":"%s","platform":"web","attributes":{"surface":"search"}}')

WRK_SCRIPT = r"""
local run = os.getenv("BENCH_RUN")
local key = os.getenv("BENCH_KEY")
local method = os.getenv("BENCH_METHOD")
local path = os.getenv("BENCH_PATH")
local counter = 0
local threads = {}
setup = function(thread)
  thread:set("tid", tostring(#threads + 1))
  table.insert(threads, thread)
end
request = function()
  counter = counter + 1
  if method == "GET" then
    return wrk.format("GET", path)
  end
  local body = string.format(
    '{"trigger":"search_blocked_term","country":"GB","language":"en-GB",' ..
    '"session_id":"wrk-%s-%s-%d","platform":"web","attributes":{"surface":"search"}}',
    run, tid, counter)
  return wrk.format("POST", path, {["Content-Type"] = "application/json",
                                   ["Authorization"] = "Bearer " .. key}, body)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"errors": %d, "non_2xx": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def ensure_wrk() -> str | None:
    if shutil.which("wrk"):
        return shutil.which("wrk")
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    return shutil.which("wrk")


def wrk_closed_loop(wrk: str, server: Server, *, method: str, path: str, key: str,
                    duration: int, connections: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    env = {**os.environ, "BENCH_RUN": str(time.time_ns()), "BENCH_KEY": key,
           "BENCH_METHOD": method, "BENCH_PATH": path}
    try:
        output = subprocess.run(
            [wrk, "-t2", f"-c{connections}", f"-d{duration}s", "--timeout", "5s",
             "-s", script.name, server.base], capture_output=True, text=True, env=env,
            timeout=duration + 60, check=True).stdout
    finally:
        Path(script.name).unlink()
    line = next(row for row in output.splitlines() if row.startswith("JSON "))
    data = json.loads(line[5:])
    seconds = data["duration_us"] / 1e6
    return {"rps": data["requests"] / seconds, "p50": data["p50_us"] / 1000,
            "p99": data["p99_us"] / 1000,
            "errors": f"{data['non_2xx']} http, {data['errors']} socket",
            "requests": data["requests"]}


class Client:
    """One keep-alive connection; reconnects when the server closes it."""

    def __init__(self, server: Server, *, key: str) -> None:
        self.port = server.port
        self.headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
        self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)

    def send(self, method: str, path: str, body: str | None) -> int:
        try:
            self.connection.request(method, path, body=body,
                                    headers=self.headers if body else {})
            response = self.connection.getresponse()
            response.read()
            return response.status
        except (OSError, http.client.HTTPException):
            self.connection.close()
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            return 599


def run_load(server: Server, *, method: str, path: str, key: str, duration: float,
             rate: float | None, threads: int) -> dict:
    """Closed loop (rate None: as fast as possible) or open loop at `rate` requests/s."""
    counter = itertools.count()
    run = time.time_ns()
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    start = time.perf_counter() + 0.2
    end = start + duration

    def worker() -> None:
        client = Client(server, key=key)
        mine, bad = [], 0
        while True:
            index = next(counter)
            due = start + index / rate if rate else time.perf_counter()
            if due >= end:
                break
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            body = BODY % f"py-{run}-{index}" if method == "POST" else None
            status = client.send(method, path, body)
            mine.append(time.perf_counter() - due)
            bad += status != 200
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    latencies.sort()
    elapsed = max(duration, 1e-9)
    return {"rps": len(latencies) / elapsed, "p50": percentile(latencies, 50) * 1000,
            "p99": percentile(latencies, 99) * 1000, "errors": errors[0],
            "requests": len(latencies)}


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def cpu_per_request(*, key: str, count: int = 400) -> dict[str, float]:
    """CPU milliseconds per request in this process (Django test client, same database).

    Less sensitive than throughput to other work on a shared machine: a second comparison.
    """
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {key}")
    run = time.time_ns()

    def bare(i: int) -> None:
        client.get("/bench/bare")

    def live(i: int) -> None:
        client.post("/api/v1/interventions", BODY % f"cpu-{run}-{i}",
                    content_type="application/json")

    figures = {}
    for name, call in (("bare", bare), ("interventions", live)):
        for i in range(50):
            call(-i - 1)
        started = time.process_time()
        for i in range(count):
            call(i)
        figures[name] = (time.process_time() - started) / count * 1000
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3,
                        help="rounds of the maximum-throughput phases (median reported)")
    # gthread keeps connections alive and overlaps the exposure commit's disk wait with
    # other requests; it measured faster than sync workers for both endpoints here.
    parser.add_argument("--workers", type=int, default=int(os.environ.get("BENCH_WORKERS", 3)))
    parser.add_argument("--worker-class",
                        default=os.environ.get("BENCH_WORKER_CLASS", "gthread"))
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", 8765)))
    args = parser.parse_args()

    ensure_database()
    data = seed()
    from interventions.views import bench_write_table_create

    bench_write_table_create()
    key = data["secret"]
    wrk = ensure_wrk()
    server = Server(port=args.port, workers=args.workers, worker_class=args.worker_class,
                    threads=args.threads)
    bare = ("GET", "/bench/bare")
    bare_write = ("GET", "/bench/bare-write")
    arm = data["campaign"].arms.order_by("pk").first()
    group_write = ("GET", f"/bench/group-write?organisation={data['programme'].pk}"
                          f"&campaign={data['campaign'].pk}&arm={arm.pk}")
    live = ("POST", "/api/v1/interventions")
    results: dict[str, dict] = {}
    ratios: dict = {}
    load_before = os.getloadavg()
    try:
        check = Client(server, key=key)
        status = check.send("POST", live[1], BODY % f"check-{time.time_ns()}")
        if status != 200:
            raise SystemExit(f"the intervention endpoint answered {status}")

        def closed(method: str, path: str, duration: int) -> dict:
            if wrk:
                return wrk_closed_loop(wrk, server, method=method, path=path, key=key,
                                       duration=duration, connections=args.connections)
            return run_load(server, method=method, path=path, key=key, duration=duration,
                            rate=None, threads=args.connections)

        for endpoint in (bare, bare_write, group_write, live):  # warm-up: imports, caches
            closed(*endpoint, duration=2)
        names = {"bare max": bare, "bare + 1 committed row max": bare_write,
                 "bare + 1 group-committed exposure max": group_write,
                 "interventions max": live}
        rounds: dict[str, list[dict]] = {name: [] for name in names}
        for _ in range(args.repeat):
            for name, endpoint in names.items():
                before = cpu_seconds(server, database=database_name())
                flushes_before = wal_flushes()
                figures = closed(*endpoint, duration=args.duration)
                after = cpu_seconds(server, database=database_name())
                figures["wal_flushes"] = (wal_flushes() - flushes_before) / max(
                    figures["requests"], 1)
                requests = max(figures["requests"], 1)
                figures["web_ms"] = cpu_used(before[0], after[0]) / requests * 1000
                figures["pg_ms"] = cpu_used(before[1], after[1]) / requests * 1000
                rounds[name].append(figures)
        for name, figures in rounds.items():
            results[name] = median_round(figures)
        ratios["interventions/bare-write"] = statistics.median(
            live_round["rps"] / write_round["rps"] for live_round, write_round in
            zip(rounds["interventions max"], rounds["bare + 1 committed row max"], strict=True))
        ratios["group-write/bare-write"] = statistics.median(
            group_round["rps"] / write_round["rps"] for group_round, write_round in
            zip(rounds["bare + 1 group-committed exposure max"],
                rounds["bare + 1 committed row max"], strict=True))
        ratios["interventions/bare"] = statistics.median(
            live_round["rps"] / bare_round["rps"] for live_round, bare_round in
            zip(rounds["interventions max"], rounds["bare max"], strict=True))
        ratios["rounds"] = [round(live_round["rps"] / write_round["rps"], 2) for
                            live_round, write_round in
                            zip(rounds["interventions max"], rounds["bare + 1 committed row max"],
                                strict=True)]
        half = results["interventions max"]["rps"] / 2
        results["bare @ half"] = run_load(server, method=bare[0], path=bare[1], key=key,
                                          duration=args.duration, rate=half, threads=16)
        results["interventions @ half"] = run_load(server, method=live[0], path=live[1],
                                                   key=key, duration=args.duration,
                                                   rate=half, threads=16)
    finally:
        server.stop()
    cpu = cpu_per_request(key=key)
    report(results, ratios, args=args, generator="wrk" if wrk else "python threads", half=half,
           load=(load_before, os.getloadavg()))
    print(f"in-process CPU per request: bare {cpu['bare']:.2f} ms, interventions "
          f"{cpu['interventions']:.2f} ms (ratio {cpu['bare'] / cpu['interventions']:.2f})")


def median_round(rounds: list[dict]) -> dict:
    """The round with the median throughput (its latencies and CPU figures with it)."""
    ordered = sorted(rounds, key=lambda figures: figures["rps"])
    return ordered[(len(ordered) - 1) // 2]


def database_name() -> str:
    return os.environ["DATABASE_URL"].rsplit("/", 1)[-1].split("?")[0]


def wal_flushes() -> int:
    """WAL flushes to disk so far, cluster-wide (pg_stat_wal): what sharing commits saves."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT wal_sync FROM pg_stat_wal")
        return int(cursor.fetchone()[0])


def cpu_seconds(server: Server, *, database: str) -> tuple[dict[str, float], dict[str, float]]:
    """CPU seconds used so far by each gunicorn worker and each of their PostgreSQL backends."""
    tick = os.sysconf("SC_CLK_TCK")
    workers = subprocess.run(["pgrep", "-P", str(server.process.pid)], capture_output=True,
                             text=True).stdout.split()
    listing = subprocess.run(["ps", "-wweo", "pid,args"], capture_output=True,
                             text=True).stdout.splitlines()
    backends = [line.split()[0] for line in listing
                if "postgres: " in line and f" {database} " in line]

    def used(pids: list[str]) -> dict[str, float]:
        seconds = {}
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            seconds[pid] = (int(fields[11]) + int(fields[12])) / tick
        return seconds

    return used(workers), used(backends)


def cpu_used(before: dict[str, float], after: dict[str, float]) -> float:
    """CPU seconds between two readings, per process (one that started meanwhile from zero; one
    that ended meanwhile is left out, so a figure can only be an underestimate)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def report(results: dict, ratios: dict, *, args: argparse.Namespace, generator: str,
           half: float, load: tuple) -> None:
    print(f"\nPOST /api/v1/interventions vs bare views — gunicorn {args.workers} x "
          f"{args.worker_class} (threads {args.threads}), closed loop via {generator} "
          f"({args.connections} connections), {args.duration} s per phase, maximum phases "
          f"x {args.repeat} (median shown), {os.cpu_count()} CPUs, load average "
          f"{load[0][0]:.1f} before / {load[1][0]:.1f} after\n")
    rows = [("phase", "req/s", "p50 ms", "p99 ms", "requests", "errors", "web CPU ms/req",
             "PG CPU ms/req", "WAL flushes/req")]
    for name, r in results.items():
        rows.append((name, f"{r['rps']:.0f}", f"{r['p50']:.2f}", f"{r['p99']:.2f}",
                     str(r["requests"]), str(r["errors"]),
                     f"{r['web_ms']:.3f}" if "web_ms" in r else "",
                     f"{r['pg_ms']:.3f}" if "pg_ms" in r else "",
                     f"{r['wal_flushes']:.2f}" if "wal_flushes" in r else ""))
    table(rows)
    ratio = ratios["interventions/bare-write"]
    p99 = results["interventions @ half"]["p99"]
    print(f"\nthroughput ratio interventions/bare-write: {ratio:.2f} (target >= 1.00) "
          f"{'PASS' if ratio >= 1.0 else 'FAIL'}; rounds {ratios['rounds']}")
    print(f"(interventions/bare view: {ratios['interventions/bare']:.2f}; the group writer alone, "
          f"one exposure row and nothing else, against bare-write: "
          f"{ratios['group-write/bare-write']:.2f})")
    print(f"p99 at half maximum ({half:.0f} req/s offered): {p99:.2f} ms (target < 25 ms) "
          f"{'PASS' if p99 < 25 else 'FAIL'}")
    median = statistics.median([r["p50"] for r in results.values()])
    print(f"(median of the phases' p50: {median:.2f} ms)")


if __name__ == "__main__":
    main()
