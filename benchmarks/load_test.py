"""Load test for ``proplens serve``: concurrent clients posting a 40-sentence article to /api/score.

Starts the server itself (uvicorn in a subprocess on 127.0.0.1, a free port, the default model),
waits for /healthz, then holds ``--clients`` concurrent keep-alive clients for ``--seconds``. Each
client posts, waits for the answer and posts again (a closed loop), so latency includes queueing.
The run is bounded in time and in requests (``--max-requests``), talks to loopback only, and stops
the server it started.

    python benchmarks/load_test.py --clients 50 --seconds 30
    python benchmarks/load_test.py --clients 50 --seconds 30 --workers 2 --json

Prints requests/s, p50/p95/p99/max latency and errors. The load generator runs on the same machine
and takes CPU from the server, as it would from any co-hosted client.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from proplens.server import DEFAULT_MAX_BATCH, KEEP_ALIVE_SECONDS

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = REPO_ROOT / "datasets" / "examples"
# Used when the project has no example article yet: fictional, written for this benchmark.
FALLBACK_ARTICLE = """Riverside council delays library vote

The council of Fennick Vale postponed its vote on the new library until next month. The building \
plan includes a reading room, a small cafe and a garden for readers. Councillor Brannock called \
the delay a shameful betrayal by cowardly officials who despise ordinary families. Never again \
will this town let a handful of arrogant bureaucrats destroy our children's future! Everyone knows \
the real reason: they simply do not care about us. The finance officer said the cost estimate had \
risen by nine per cent since the spring. A public meeting is planned for the first Monday of May.
"""


def example_text() -> str:
    examples = sorted(EXAMPLES.glob("*.txt")) if EXAMPLES.is_dir() else []
    return examples[0].read_text(encoding="utf-8") if examples else FALLBACK_ARTICLE


def build_article(sentence_count: int) -> str:
    """``sentence_count`` sentences made by repeating the example article's sentences."""
    from proplens.segment import segment

    # Only sentences with end punctuation: a headline would merge with its neighbour when joined.
    sentences = [
        sentence.text
        for sentence in segment(example_text())
        if sentence.text.rstrip("\"'”’)").endswith((".", "!", "?"))
    ]
    chosen = [sentences[i % len(sentences)] for i in range(sentence_count)]
    paragraphs = [" ".join(chosen[i : i + 5]) for i in range(0, len(chosen), 5)]
    article = "\n\n".join(paragraphs)
    found = len(segment(article))
    if found != sentence_count:
        raise SystemExit(f"built an article of {found} sentences, not {sentence_count}")
    return article


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(
    port: int, workers: int, scoring_threads: int, max_batch: int = DEFAULT_MAX_BATCH
) -> subprocess.Popen:
    if workers == 1:
        launcher = (
            "import uvicorn; from proplens.server import create_app; "
            f"uvicorn.run(create_app(scoring_threads={scoring_threads or None}, "
            f"max_batch={max_batch}), host='127.0.0.1', "
            f"port={port}, log_level='warning', access_log=False, "
            f"timeout_keep_alive={KEEP_ALIVE_SECONDS})"
        )
        return subprocess.Popen(
            [sys.executable, "-c", launcher], cwd=REPO_ROOT, start_new_session=True
        )
    # Several processes need an import string; each worker builds the app with its defaults.
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "proplens.server:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
        "--timeout-keep-alive",
        str(KEEP_ALIVE_SECONDS),
    ]
    # A new session so that stopping it also stops uvicorn's worker processes.
    return subprocess.Popen(command, cwd=REPO_ROOT, start_new_session=True)


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def wait_until_ready(base_url: str, process: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with code {process.returncode} before answering")
        try:
            if httpx.get(base_url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server did not answer /healthz within {timeout:.0f} s")


class _Connection:
    """One keep-alive HTTP/1.1 connection on asyncio streams.

    A deliberately small client: on this 2-core machine httpx's async pool topped out near
    180 requests/s even for ``GET /healthz`` with 50 clients, so it measured itself, not the
    server. This one only sends ``Content-Length`` bodies and reads the answers uvicorn gives.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def post(self, path: str, body: bytes) -> int:
        if self.writer is None:
            await self.open()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.writer.write(head + body)
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection")
        status = int(status_line.split()[1])
        length, chunked, keep_alive = 0, False, True
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding":
                chunked = "chunked" in value
            elif name == "connection":
                keep_alive = value != "close"
        if chunked:
            while size := int((await self.reader.readline()).strip(), 16):
                await self.reader.readexactly(size + 2)
            await self.reader.readline()
        else:
            await self.reader.readexactly(length)
        if not keep_alive:
            await self.close()
        return status


async def run_clients(
    port: int, payload: dict, clients: int, seconds: float, max_requests: int
) -> tuple[list[float], int, list[str], float]:
    latencies: list[float] = []
    errors: list[str] = []
    sent = 0
    body = json.dumps(payload).encode()
    connections = [_Connection("127.0.0.1", port) for _ in range(clients)]
    # Warm-up: one request per client opens the connections and fills any caches.
    await asyncio.gather(*(connection.post("/api/score", body) for connection in connections))
    start = time.perf_counter()
    deadline = start + seconds

    async def one_client(connection: _Connection) -> None:
        nonlocal sent
        while time.perf_counter() < deadline and sent < max_requests:
            sent += 1
            began = time.perf_counter()
            try:
                status = await asyncio.wait_for(connection.post("/api/score", body), 30)
            except (TimeoutError, OSError, ValueError, IndexError) as error:
                errors.append(type(error).__name__)
                await connection.close()
                continue
            if status != 200:
                errors.append(f"HTTP {status}")
                continue
            latencies.append(time.perf_counter() - began)

    await asyncio.gather(*(one_client(connection) for connection in connections))
    elapsed = time.perf_counter() - start
    await asyncio.gather(*(connection.close() for connection in connections))
    return latencies, sent, errors, elapsed


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (default 50)")
    parser.add_argument("--seconds", type=float, default=30.0, help="test length (default 30)")
    parser.add_argument("--sentences", type=int, default=40, help="article length (default 40)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--scoring-threads",
        type=int,
        default=1,
        help="requests scored at once in one worker (create_app(scoring_threads=...)); "
        "0 = FastAPI's default thread pool, for comparison",
    )
    parser.add_argument(
        "--max-batch",
        type=int,
        default=DEFAULT_MAX_BATCH,
        help="waiting requests scored together per score_many call (create_app(max_batch=...)); "
        "1 = one by one, for comparison (one worker only)",
    )
    parser.add_argument("--max-requests", type=int, default=100_000, help="hard request bound")
    parser.add_argument("--no-evidence", action="store_true", help="ask for no evidence words")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if not (1 <= args.clients <= 500 and 0 < args.seconds <= 600 and 1 <= args.workers <= 8):
        parser.error("keep to 1-500 clients, at most 600 s and 1-8 workers")
    if args.max_batch < 1:
        parser.error("--max-batch must be at least 1")

    article = build_article(args.sentences)
    payload = {"text": article, "evidence": not args.no_evidence}
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    server = start_server(port, args.workers, args.scoring_threads, args.max_batch)
    try:
        wait_until_ready(base_url, server)
        answer = httpx.post(base_url + "/api/score", json=payload, timeout=30)
        if answer.status_code != 200:
            raise SystemExit(
                f"the server refused the article: HTTP {answer.status_code} {answer.text}"
            )
        check = answer.json()
        latencies, sent, errors, elapsed = asyncio.run(
            run_clients(port, payload, args.clients, args.seconds, args.max_requests)
        )
    finally:
        stop_server(server)

    figures = {
        "clients": args.clients,
        "seconds": round(elapsed, 1),
        "workers": args.workers,
        "scoring_threads": args.scoring_threads if args.workers == 1 else 1,
        "max_batch": args.max_batch if args.workers == 1 else DEFAULT_MAX_BATCH,
        "sentences_per_request": check["summary"]["sentences"],
        "evidence": not args.no_evidence,
        "requests": sent,
        "ok": len(latencies),
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
        "requests_per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(1000 * percentile(latencies, 0.50), 1),
        "p95_ms": round(1000 * percentile(latencies, 0.95), 1),
        "p99_ms": round(1000 * percentile(latencies, 0.99), 1),
        "max_ms": round(1000 * max(latencies, default=float("nan")), 1),
        "mean_ms": round(1000 * statistics.fmean(latencies), 1) if latencies else None,
        "cpus": os.cpu_count(),
        # other work on the machine skews every figure; the 1-minute load average says how much
        "load_average_after": round(os.getloadavg()[0], 2),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(
            f"{figures['clients']} clients x {figures['seconds']} s, {figures['workers']} "
            f"worker(s), max batch {figures['max_batch']}, "
            f"{figures['sentences_per_request']} sentences/request, "
            f"evidence={figures['evidence']}\n"
            f"requests: {figures['ok']} ok, {figures['errors']} errors "
            f"{figures['error_kinds'] or ''}\n"
            f"throughput: {figures['requests_per_second']} requests/s\n"
            f"latency ms: p50 {figures['p50_ms']}  p95 {figures['p95_ms']}  "
            f"p99 {figures['p99_ms']}  max {figures['max_ms']}\n"
            f"load average (1 min) after the run: {figures['load_average_after']}"
        )
    return 0 if not errors else 1


if __name__ == "__main__":
    raise SystemExit(main())
