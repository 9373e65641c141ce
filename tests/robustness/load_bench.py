"""Load benchmark: the real app (``python app.py``) under N users asking M questions each.

    .venv/bin/python tests/robustness/load_bench.py [--users 20] [--questions 10]
        [--index DIR] [--chroma-url URL] [--json]

Starts the app as a user would (env ``VRAAGBAAK_INDEX``, ``GRADIO_SERVER_NAME=127.0.0.1``,
``GRADIO_SERVER_PORT``; an empty index is filled with the sample articles by the app itself),
waits until it answers, asks one warm-up question, then lets the users ask through
``gradio_client`` against the ``/ask`` API endpoint, all at once. Reports p50/p95/max latency,
throughput, errors and the app's memory (RSS) before and after. Not collected by pytest.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
QUESTIONS = (
    "Wat gaf Poetin aan Kim?",
    "Naar welk land reist de Russische president na zijn bezoek aan Pyongyang?",
    "Wanneer was Poetin al eens eerder in Noord-Korea?",
    "Hoe heet de correspondent in Rusland die het bezoek duidt?",
    "Wat ontvangt Noord-Korea van de Russen?",
    "Hoe werd de Russische leider in Noord-Korea onthaald?",
    "Waarom zijn Moskou en Pyongyang zo op elkaar aangewezen?",
    "Waar ligt Spa-Francorchamps?",
    "Wie verspeelde de Europese titel?",
    "Wat verdienen de spelers van Ajax?",
)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of a process in MB, from /proc."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def wait_for(predicate: Any, timeout_s: float, what: str, poll_s: float = 1.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {what} after {timeout_s:.0f} s")
        time.sleep(poll_s)


def start_app(index: Path, port: int, chroma_url: str | None, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ, "VRAAGBAAK_INDEX": str(index), "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port), "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
        "ANONYMIZED_TELEMETRY": "False", "HF_HUB_DISABLE_TELEMETRY": "1",
    }  # fmt: skip
    if chroma_url:
        env["VRAAGBAAK_CHROMA_URL"] = chroma_url
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "app.py"], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT
        )


def answers(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def user(url: str, n: int, questions: int, latencies: list[float], errors: list[str]) -> None:
    from gradio_client import Client

    client = Client(url, verbose=False)
    for i in range(questions):
        question = QUESTIONS[(n + i) % len(QUESTIONS)]
        started = time.perf_counter()
        try:
            result = client.predict(question, [], api_name="/ask")
            if not isinstance(result, dict) or "error" in result:
                errors.append(f"{question}: {result}")
        except Exception as err:  # noqa: BLE001 - counted, reported
            errors.append(f"{question}: {type(err).__name__}: {err}")
        latencies.append(time.perf_counter() - started)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--users", type=int, default=20)
    p.add_argument("--questions", type=int, default=10, help="per user")
    p.add_argument("--index", type=Path, help="index folder (default: a new temporary one)")
    p.add_argument("--chroma-url", help="serve from a Chroma server instead")
    p.add_argument("--port", type=int)
    p.add_argument("--wait-for-app", type=float, default=1800, help="seconds to wait for app.py")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

    # 1. the app: app.py may still be being written by someone else
    wait_for((REPO / "app.py").exists, args.wait_for_app, "app.py", poll_s=10)
    index = args.index or Path(tempfile.mkdtemp(prefix="vraagbaak-load-")) / "index"
    port = args.port or free_port()
    url = f"http://127.0.0.1:{port}/"
    log = index.parent / "app.log"
    index.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    app = start_app(index, port, args.chroma_url, log)
    try:
        wait_for(lambda: app.poll() is not None or answers(url), 900, "the app to answer")
        if app.poll() is not None:
            print(log.read_text()[-3000:], file=sys.stderr)
            return 1
        startup_s = time.monotonic() - started
        from gradio_client import Client

        warm = time.perf_counter()
        Client(url, verbose=False).predict(QUESTIONS[0], [], api_name="/ask")
        first_s = time.perf_counter() - warm
        rss_before, _ = rss_mb(app.pid)

        # 2. all users at once
        latencies: list[float] = []
        errors: list[str] = []
        threads = [
            threading.Thread(target=user, args=(url, n, args.questions, latencies, errors))
            for n in range(args.users)
        ]
        began = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - began
        rss_after, rss_peak = rss_mb(app.pid)
    finally:
        app.send_signal(signal.SIGINT)
        try:
            app.wait(timeout=30)
        except subprocess.TimeoutExpired:
            app.kill()

    ordered = sorted(latencies)
    result = {
        "users": args.users, "questions_per_user": args.questions, "asked": len(latencies),
        "errors": len(errors), "wall_s": round(wall, 1),
        "throughput_qps": round(len(latencies) / wall, 2),
        "p50_s": round(statistics.median(ordered), 2),
        "p95_s": round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 2),
        "max_s": round(ordered[-1], 2), "startup_s": round(startup_s, 1),
        "first_question_s": round(first_s, 2), "rss_before_mb": round(rss_before),
        "rss_after_mb": round(rss_after), "rss_peak_mb": round(rss_peak),
        "cpus": os.cpu_count(), "mode": "server" if args.chroma_url else "embedded",
    }  # fmt: skip
    for e in errors[:5]:
        print(f"error: {e}", file=sys.stderr)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>20}: {value}")
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
