"""Helpers for the robustness tests: a real Chroma server, and a second process that writes.

``ChromaServer`` runs ``chroma run --host 127.0.0.1`` from this venv on a free port with a
temporary ``--path``, waits until it answers, and stops it again (by its own process id).

``write_writer_script`` puts a small ingest script in a test's folder. It ingests files with the
fake embedder from ``tests.conftest`` (so its vectors equal the test process's), as another
process (a CLI ingest, another machine) would. With ``--forks`` it imports everything once and
then forks one child per request, so that a test can kill children at random points without
paying the start-up time each time.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

from qa.settings import REPO_ROOT

CHROMA = Path(sys.executable).parent / "chroma"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ChromaServer:
    """A ``chroma run`` process for one test module; ``url`` is what ``--chroma-url`` takes."""

    def __init__(self, path: Path, port: int | None = None) -> None:
        self.path = path
        self.port = port or free_port()
        self.log = path.parent / f"chroma-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30.0) -> ChromaServer:
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [str(CHROMA), "run", "--path", str(self.path), "--host", "127.0.0.1",
                 "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
            )  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"chroma run stopped: {self.log.read_text()[-2000:]}")
            if self.alive():
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"chroma run did not answer within {timeout_s} s")

    def alive(self) -> bool:
        try:
            return httpx.get(f"{self.url}/api/v2/heartbeat", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def __enter__(self) -> ChromaServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        self.stop()


WRITER_SCRIPT = r'''
"""Ingest files into a Vraagbaak index with the fake embedder (a second process).

    writer.py --repo ROOT (--index DIR | --chroma-url URL) [--collection C] [--cache DIR] PATH...
    writer.py --repo ROOT --forks    (then one JSON request per line on stdin)

Prints one JSON object per line: {"progress": n} after each article read, {"written": n} after
each article written, {"done": summary} at the end;
with --forks also {"ready": true}, {"child": pid} and {"exit": pid, "status": s}.
"""
import argparse
import json
import os
import sys
import traceback


def say(**message):
    print(json.dumps(message), flush=True)


def run_ingest(request):
    from pathlib import Path

    from ingest.pipeline import ingest_paths
    from qa.settings import Settings
    from qa.index.store import open_store, spec_for
    from tests.conftest import BagOfWordsEmbeddings

    settings = Settings(
        index_dir=Path(request.get("index") or "unused-index"),
        chroma_url=request.get("chroma_url"),
        collection=request.get("collection") or "vraagbaak",
        model_cache=Path(request.get("cache") or "unused-cache"),
    )
    embeddings = BagOfWordsEmbeddings()
    store = open_store(settings, spec_for(settings, embeddings), for_writing=True)
    add_article, written = store.add_article, [0]

    def add_and_say(*args, **kwargs):
        add_article(*args, **kwargs)
        written[0] += 1
        say(written=written[0])

    store.add_article = add_and_say
    summary = ingest_paths(
        [Path(p) for p in request["paths"]], store=store, embeddings=embeddings,
        settings=settings, progress=lambda p: say(progress=p.articles_done),
    )
    say(done=summary.to_json())


def serve_forks():
    """Import once, then fork a child per request: killing children costs no start-up time."""
    import ingest.pipeline  # noqa: F401
    import qa.index.store  # noqa: F401
    from qa.text import split_sentences

    split_sentences("Een zin om spaCy te laden. Nog een.")
    say(ready=True)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                run_ingest(request)
            except BaseException:
                traceback.print_exc()
                code = 1
            finally:
                sys.stdout.flush()
                os._exit(code)
        say(child=pid)
        _, status = os.waitpid(pid, 0)
        say(exit=pid, status=status)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", required=True)
    parser.add_argument("--index")
    parser.add_argument("--chroma-url")
    parser.add_argument("--collection")
    parser.add_argument("--cache")
    parser.add_argument("--forks", action="store_true")
    parser.add_argument("paths", nargs="*")
    args = parser.parse_args()
    sys.path.insert(0, args.repo)
    # spaCy's thinc imports torch when it is installed, which doubles the start-up time; the
    # fake embedder and the sentence splitter do not need it.
    sys.modules.setdefault("torch", None)
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    if args.forks:
        serve_forks()
    else:
        run_ingest({"index": args.index, "chroma_url": args.chroma_url,
                "collection": args.collection, "cache": args.cache, "paths": args.paths})


if __name__ == "__main__":
    main()
'''


def write_writer_script(folder: Path) -> Path:
    """Write the writer script into ``folder``; run it with ``writer_command``."""
    path = folder / "writer.py"
    path.write_text(WRITER_SCRIPT, encoding="utf-8")
    return path


def writer_command(script: Path, *args: str) -> list[str]:
    return [sys.executable, str(script), "--repo", str(REPO_ROOT), *args]


def run_writer(script: Path, *args: str, timeout_s: float = 120.0) -> str:
    """Run the writer to completion; its stdout. Raises with its stderr when it fails."""
    done = subprocess.run(
        writer_command(script, *args), capture_output=True, text=True, timeout=timeout_s,
        check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"writer failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout
