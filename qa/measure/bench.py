"""``python -m qa bench``: speed, memory and quality, measured the way a user meets them.

What a run measures, in order (``--quick`` does 1-4 on the sample corpus only):

1. the embedding model alone on the sample corpus's chunk texts (chunks/s);
2. the whole ingest path (read, chunk, embed, write Chroma + the lexical index) on the sample
   corpus into a fresh temporary index (chunks/s), its time split into embedding and the rest;
3. in a fresh process that loads the model and opens that index (as the app does): hybrid
   retrieval and offline answers (``Pipeline.ask``) over the eval questions (p50/p95 ms), the
   eval scores (``qa.measure.evaluate.score``) and the process's memory (RSS);
4. a baseline side by side: what the LangChain tutorial builds (``RecursiveCharacterTextSplitter``
   with 1000/200 characters, the same embedding model, ``langchain_chroma.Chroma``,
   ``similarity_search(k=4)``, the top chunk as the answer), on the same questions;
5. (full run) the embedding backends, threads and batch sizes: throughput and eval scores;
6. (full run) the index grown to 10k and 100k chunks with *synthetic* articles: real sentences of
   the sample corpus, recombined. Their vectors are precomputed (each distinct sentence embedded
   once; a chunk's vector is the normalised mean of its sentences' vectors), so the write time
   per 1,000 chunks excludes embedding. Latency, memory and disk at each size, and a plot.

What it deliberately does not do: score answer quality at 10k/100k (the synthetic articles repeat
the gold articles' sentences, so retrieving a copy counts as a miss there), or assert timings in
tests. Timings depend on the machine and on whatever else runs on it, so the load average is
recorded with the results.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.embeddings import Embeddings

from qa.measure.evaluate import Question, Record, load_questions, percentile, score
from qa.settings import REPO_ROOT, Settings
from qa.types import Answer, Article, Chunk

if TYPE_CHECKING:
    import numpy as np
    from langchain_core.documents import Document

    from qa.pipeline import Pipeline

QUESTIONS = REPO_ROOT / "eval" / "questions.jsonl"
DOCS = REPO_ROOT / "docs"
PLOT_NAME = "bench-latency.png"
SIZES = (10_000, 100_000)
SYNTHETIC_SOURCE = "synthetisch: echte zinnen uit data/articles, hercombineerd"
SYNTHETIC_NOTE = (
    "10k/100k: the sample corpus plus synthetic articles made of the sample corpus's real "
    "sentences, recombined; their vectors are precomputed (each distinct sentence embedded once, "
    "a chunk's vector the normalised mean of its sentences' vectors), so write times exclude "
    "embedding"
)
MEMORY_LIMIT_MB = 1536
OPTION_REPEATS = 3  # best of: other work on the machine only ever slows a pass down
SAME_VECTORS = 0.9999  # min cosine at which two backends' eval scores are taken to be the same
OPTION_TEXTS = 128  # chunk texts per embedding option for its throughput (full run)

# The baseline, as in LangChain's RAG tutorial.
BASELINE_CHUNK_CHARS = 1000
BASELINE_OVERLAP_CHARS = 200
BASELINE_K = 4


# --- small pure helpers -------------------------------------------------------------------------


def latency_summary(ms: Sequence[float]) -> dict[str, float | None]:
    """p50 and p95 (linear interpolation, as numpy's default) of timings in ms, rounded."""
    return {"p50_ms": _round(percentile(ms, 50)), "p95_ms": _round(percentile(ms, 95))}


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def ratio(ours: float | None, theirs: float | None) -> float | None:
    """ours / theirs, or None when either is missing or the baseline is 0."""
    if ours is None or theirs is None or theirs == 0:
        return None
    return round(ours / theirs, 2)


def best_throughput(work: Callable[[], object], items: int, repeats: int = OPTION_REPEATS) -> float:
    """Items per second of the fastest of ``repeats`` runs of ``work``."""
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - t0)
    return round(items / best, 2) if best > 0 else math.inf


def memory_mb() -> tuple[float, float]:
    """(current RSS, peak RSS) of this process in MB, from /proc (Linux) or getrusage."""
    current = peak = 0.0
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                current = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    except OSError:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        current = peak
    return round(current, 1), round(peak, 1)


def disk_mb(folder: Path) -> float:
    """Disk space the files under ``folder`` take (allocated blocks), in MB."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                continue
    return round(total / 1e6, 1)


def load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


# --- embeddings that record what they do ----------------------------------------------------------


class TimedEmbeddings(Embeddings):
    """Wraps our embeddings: counts the seconds spent embedding passages, and can answer from
    vectors computed before (``known``, by text) so that a second ingest does not embed again."""

    def __init__(self, inner: Any, known: dict[str, Any] | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self.known = known or {}
        self.seconds = 0.0
        self.texts = 0

    def encode(self, texts: list[str], *, query: bool) -> np.ndarray:
        import numpy as np

        if not query and texts and all(t in self.known for t in texts):
            return np.stack([self.known[t] for t in texts])
        start = time.perf_counter()
        vectors = self.inner.encode(texts, query=query)
        if not query:
            self.seconds += time.perf_counter() - start
            self.texts += len(texts)
        return vectors

    def count_tokens(self, texts: list[str]) -> list[int]:
        return list(self.inner.count_tokens(texts))

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts, query=False).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text], query=True)[0].tolist()


def _clear_query_cache(embeddings: Any) -> None:
    clear = getattr(embeddings, "clear_cache", None)
    if clear is not None:
        clear()


# --- the sample corpus ---------------------------------------------------------------------------


def sample_chunks(
    articles: Sequence[Article], embeddings: Any, settings: Settings
) -> list[tuple[Article, list[Chunk]]]:
    """The sample corpus cut into chunks exactly as ingest cuts it."""
    from ingest.chunking import chunk_article
    from qa.index.embeddings import count_tokens_fn

    count = count_tokens_fn(embeddings)
    return [
        (a, chunk_article(a, count_tokens=count, max_tokens=settings.chunk_tokens,
                          overlap=settings.chunk_overlap_sentences))
        for a in articles
    ]  # fmt: skip


def passage_texts(chunked: Sequence[tuple[Article, Sequence[Chunk]]]) -> list[str]:
    """What is embedded for each chunk (title + text), in ingest's order."""
    from ingest.chunking import passage_text

    return [passage_text(a.title, c.text) for a, chunks in chunked for c in chunks]


# --- synthetic articles ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SyntheticArticle:
    """An article made of real sentences, its chunks, and which pool sentences each chunk holds."""

    article: Article
    chunks: tuple[Chunk, ...]
    sentence_ids: tuple[tuple[int, ...], ...]  # per chunk: indexes into the sentence pool


def sentence_pool(articles: Sequence[Article], *, min_words: int = 4) -> list[str]:
    """Every distinct real sentence of ``articles`` with at least ``min_words`` words."""
    from qa.text import split_sentences, words

    seen: dict[str, None] = {}
    for article in articles:
        for start, end in split_sentences(article.text):
            sentence = " ".join(article.text[start:end].split())
            if len(words(sentence)) >= min_words:
                seen.setdefault(sentence, None)
    return list(seen)


def synthetic_articles(
    pool: Sequence[str], token_counts: Sequence[int], *, n_chunks: int, budget: int,
    overlap: int = 1, seed: int = 0, first: int = 0, sentences: tuple[int, int] = (40, 110),
) -> list[SyntheticArticle]:  # fmt: skip
    """Articles of randomly drawn pool sentences, chunked greedily to ``budget`` tokens with
    ``overlap`` sentences of overlap (ingest's rule), until they hold ``n_chunks`` chunks.

    Every article says it is synthetic: its id starts with ``synthetic-``, its title with
    "Synthetisch artikel" and its source is :data:`SYNTHETIC_SOURCE`. Numbering starts at
    ``first`` so that a later batch does not reuse earlier ids. Sentences longer than the budget
    are never drawn.
    """
    from ingest.chunking import chunk_id

    if len(pool) != len(token_counts):
        raise ValueError(f"{len(pool)} sentences but {len(token_counts)} token counts")
    usable = [i for i, n in enumerate(token_counts) if 0 < n <= budget]
    if not usable:
        raise ValueError(f"no sentence fits a chunk of {budget} tokens")
    rng = random.Random(seed)
    out: list[SyntheticArticle] = []
    made = 0
    number = first
    while made < n_chunks:
        # 1. draw the sentences and lay them out as one text, remembering each one's span
        drawn = rng.sample(usable, min(len(usable), rng.randint(*sentences)))
        spans: list[tuple[int, int]] = []
        parts: list[str] = []
        pos = 0
        for i in drawn:
            spans.append((pos, pos + len(pool[i])))
            parts.append(pool[i])
            pos += len(pool[i]) + 1
        text = " ".join(parts)
        article = Article(
            id=f"synthetic-{number:06d}", text=text, title=f"Synthetisch artikel {number}",
            source=SYNTHETIC_SOURCE,
        )  # fmt: skip
        # 2. pack sentences greedily, stepping back ``overlap`` sentences between chunks
        groups: list[list[int]] = []
        k = 0
        while k < len(drawn) and made + len(groups) < n_chunks:
            group, used = [k], token_counts[drawn[k]]
            j = k + 1
            while j < len(drawn) and used + token_counts[drawn[j]] <= budget:
                group.append(j)
                used += token_counts[drawn[j]]
                j += 1
            groups.append(group)
            if j >= len(drawn):
                break
            k = max(group[0] + 1, j - overlap)
        chunks = tuple(
            Chunk(
                id=chunk_id(article.id, n),
                article_id=article.id,
                index=n,
                text=text[spans[g[0]][0] : spans[g[-1]][1]],
                start=spans[g[0]][0],
                end=spans[g[-1]][1],
                sentences=tuple(spans[x] for x in g),
            )
            for n, g in enumerate(groups)
        )
        ids = tuple(tuple(drawn[x] for x in g) for g in groups)
        out.append(SyntheticArticle(article, chunks, ids))
        made += len(chunks)
        number += 1
    return out


def chunk_vectors(sentence_vectors: np.ndarray, synthetic: SyntheticArticle) -> np.ndarray:
    """Each chunk's vector: the normalised mean of its sentences' vectors."""
    import numpy as np

    rows = np.stack([sentence_vectors[list(ids)].mean(axis=0) for ids in synthetic.sentence_ids])
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


def _sentence_vectors(pool: list[str], embeddings: Any, cache_dir: Path) -> np.ndarray:
    """The pool's passage vectors, cached on disk by model, backend and pool."""
    import numpy as np

    key = hashlib.sha1(
        json.dumps([embeddings.name, getattr(embeddings, "backend", ""), pool]).encode()
    ).hexdigest()[:16]
    path = cache_dir / "bench" / f"sentences-{key}.npy"
    if path.is_file():
        return np.load(path)
    vectors = np.asarray(embeddings.encode(pool, query=False), dtype=np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, vectors)
    os.replace(tmp, path)
    return vectors


# --- the baseline: LangChain's tutorial RAG -------------------------------------------------------


def baseline_documents(articles: Sequence[Article]) -> list[Document]:
    """One LangChain Document per article (title and text, as a loader would read the file),
    split by ``RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)``."""
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=BASELINE_CHUNK_CHARS, chunk_overlap=BASELINE_OVERLAP_CHARS
    )
    docs = [
        Document(
            page_content=f"{a.title}\n\n{a.text}" if a.title else a.text,
            metadata={"article_id": a.id, "title": a.title},
        )
        for a in articles
    ]
    return splitter.split_documents(docs)


def baseline_record(question: Question, docs: Sequence[Document], latency_ms: float) -> Record:
    """The baseline's answer: the top chunk's text, citing that chunk's article; it never
    refuses. ``retrieved`` is the articles of the (at most 4) chunks, in rank order."""
    if not docs:
        return Record(question, "", True, (), (), latency_ms)
    retrieved = tuple(dict.fromkeys(str(d.metadata.get("article_id", "")) for d in docs))
    top = docs[0]
    return Record(
        question=question, answer=top.page_content, refused=False, retrieved=retrieved,
        cited=(str(top.metadata.get("article_id", "")),), latency_ms=latency_ms,
    )  # fmt: skip


def run_baseline(
    articles: Sequence[Article], questions: Sequence[Question], embeddings: Any, folder: Path
) -> dict[str, Any]:
    """Build the tutorial's index in its own folder and client, ask every question, score it."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from langchain_chroma import Chroma

    # 1. split and index, timed (its own client on its own folder: no clash with ours)
    start = time.perf_counter()
    docs = baseline_documents(articles)
    client = chromadb.PersistentClient(
        path=str(folder), settings=ChromaSettings(anonymized_telemetry=False)
    )
    store = Chroma(
        collection_name="baseline", embedding_function=embeddings, client=client,
        collection_metadata={"hnsw:space": "cosine"},
    )  # fmt: skip
    batch = max(1, int(client.get_max_batch_size()))
    for i in range(0, len(docs), batch):
        store.add_documents(docs[i : i + batch])
    ingest_s = time.perf_counter() - start
    # 2. ask: the question alone (the tutorial keeps no history), top 4 chunks
    records = []
    for question in questions:
        _clear_query_cache(embeddings)
        t0 = time.perf_counter()
        found = store.similarity_search(question.q, k=BASELINE_K)
        records.append(baseline_record(question, found, (time.perf_counter() - t0) * 1000))
    metrics = score(records)
    lengths = [len(d.page_content) for d in docs]
    return {
        "chunks": len(docs),
        "chunk_chars_mean": round(sum(lengths) / max(len(lengths), 1)),
        "ingest_s": round(ingest_s, 2),
        "ingest_chunks_per_s": round(len(docs) / ingest_s, 2) if ingest_s else None,
        "hit_at_1": metrics.hit_at_1,
        "hit_at_4": metrics.hit_at_5,  # it retrieves 4 chunks: hit@5 would be the same number
        "answer_accuracy": metrics.answer_accuracy,
        "refusal_accuracy": metrics.refusal_accuracy,
        "answer_p50_ms": _round(metrics.latency_p50_ms),
        "answer_p95_ms": _round(metrics.latency_p95_ms),
    }


# --- queries: retrieval and answers over the eval questions ---------------------------------------


def measure_queries(pipeline: Pipeline, questions: Sequence[Question]) -> dict[str, Any]:
    """Retrieval alone, then ``Pipeline.ask``, over every question, each from a cold query
    cache; the eval scores of the answers; and this process's memory afterwards."""
    settings = pipeline.settings
    for question in questions[:3]:  # warm-up: first calls allocate and fill caches
        pipeline.ask(question.q, question.history)
    retrieve_ms = []
    for question in questions:
        _clear_query_cache(pipeline.embeddings)
        t0 = time.perf_counter()
        pipeline.retriever.retrieve(question.q, k=settings.top_k)
        retrieve_ms.append((time.perf_counter() - t0) * 1000)
    records = []
    cpu0 = time.process_time()
    for question in questions:
        _clear_query_cache(pipeline.embeddings)
        t0 = time.perf_counter()
        answer: Answer = pipeline.ask(question.q, question.history)
        records.append(Record.of(question, answer, (time.perf_counter() - t0) * 1000))
    cpu_ms = 1000 * (time.process_time() - cpu0) / max(len(questions), 1)
    metrics = score(records)
    rss, peak = memory_mb()
    r = latency_summary(retrieve_ms)
    return {
        "chunks": pipeline.store.count(),
        "questions": len(questions),
        "retrieve_p50_ms": r["p50_ms"],
        "retrieve_p95_ms": r["p95_ms"],
        "answer_p50_ms": _round(metrics.latency_p50_ms),
        "answer_p95_ms": _round(metrics.latency_p95_ms),
        "answer_cpu_mean_ms": round(cpu_ms, 1),  # CPU time, all threads: less load-dependent
        "hit_at_1": metrics.hit_at_1,
        "hit_at_5": metrics.hit_at_5,
        "answer_accuracy": metrics.answer_accuracy,
        "refusal_accuracy": metrics.refusal_accuracy,
        "rss_mb": rss,
        "peak_rss_mb": peak,
    }


def measure_in_fresh_process(
    index_dir: Path, questions: Path, *, backend: str, threads: int, batch_size: int
) -> dict[str, Any]:
    """Run :func:`measure_queries` in a new Python process (so its memory is the app's: model,
    index and answering, nothing of the benchmark) and return its results."""
    command = [
        sys.executable, "-m", "qa.measure.bench", "--index", str(index_dir),
        "--questions", str(questions),
        "--backend", backend, "--threads", str(threads), "--batch-size", str(batch_size),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"measuring {index_dir} failed:\n{done.stderr[-2000:]}")
    return dict(json.loads(lines[-1]))


def _worker(argv: list[str]) -> int:
    """``python -m qa.measure.bench --index DIR --questions FILE``: load, open, measure, print
    JSON."""
    from qa.index.embeddings import load_embeddings
    from qa.index.store import open_store, spec_for
    from qa.pipeline import Pipeline
    from qa.runtime import prepare_environment

    prepare_environment()
    p = argparse.ArgumentParser(prog="python -m qa.measure.bench")
    p.add_argument("--index", type=Path, required=True)
    p.add_argument("--questions", type=Path, required=True)
    p.add_argument("--backend", required=True)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=16)
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    settings = Settings.from_env().replace(index_dir=args.index, embed_batch_size=args.batch_size)
    embeddings = load_embeddings(settings, backend=args.backend, threads=args.threads)
    store = open_store(settings, spec_for(settings, embeddings))
    startup_s = time.perf_counter() - t0
    result = measure_queries(Pipeline(settings, embeddings, store), load_questions(args.questions))
    result["startup_s"] = round(startup_s, 2)
    print(json.dumps(result))
    return 0


# --- the runs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EmbeddingOption:
    """One way to run the embedding model, as compared in the full run."""

    label: str
    backend: str
    threads: int
    batch_size: int


def embedding_options(cores: int) -> list[EmbeddingOption]:
    """The configurations the full run compares (threads: 1 and all cores)."""
    return [
        EmbeddingOption(f"torch fp32, {cores} threads, batch 16", "torch", cores, 16),
        EmbeddingOption("torch fp32, 1 thread, batch 16", "torch", 1, 16),
        EmbeddingOption(f"torch fp32, {cores} threads, batch 64", "torch", cores, 64),
        EmbeddingOption(f"onnx fp32, {cores} threads, batch 16", "onnx", cores, 16),
        EmbeddingOption(f"onnx int8, {cores} threads, batch 16", "onnx-int8", cores, 16),
        EmbeddingOption("onnx int8, 1 thread, batch 16", "onnx-int8", 1, 16),
        EmbeddingOption(f"onnx int8, {cores} threads, batch 64", "onnx-int8", cores, 64),
    ]


class _Run:
    """One benchmark run: its settings, temp folder, log and results."""

    def __init__(self, *, quick: bool, as_json: bool) -> None:
        self.quick = quick
        self.as_json = as_json
        self.tmp = Path(tempfile.mkdtemp(prefix="vraagbaak-bench-"))
        self.settings = Settings.from_env().replace(index_dir=self.tmp / "index")
        self.started = time.perf_counter()
        self.result: dict[str, Any] = {
            "mode": "quick" if quick else "full",
            "cores": os.cpu_count(),
            "load_average_start": load_average(),
        }

    def log(self, message: str) -> None:
        """Progress on stderr (stdout is the report, with the JSON as its last line)."""
        print(f"[{time.perf_counter() - self.started:6.1f} s] {message}", file=sys.stderr)

    def close(self) -> None:
        if os.environ.get("VRAAGBAAK_BENCH_KEEP"):  # keep the indexes, e.g. to profile them
            self.log(f"kept {self.tmp}")
            return
        shutil.rmtree(self.tmp, ignore_errors=True)


def run_bench(*, quick: bool = False, as_json: bool = False, out: Path | None = None) -> int:
    """Run the benchmarks and print a report (and, with ``as_json``, one JSON object last)."""
    from qa.index.embeddings import load_embeddings

    run = _Run(quick=quick, as_json=as_json)
    try:
        settings = run.settings
        questions = load_questions(QUESTIONS)
        # 1. the model
        t0 = time.perf_counter()
        embeddings = load_embeddings(settings)
        run.result["model_load_s"] = round(time.perf_counter() - t0, 2)
        run.result["embedding"] = {
            "model": embeddings.name,
            "backend": embeddings.backend,
            "threads": int(getattr(settings, "embedding_threads", 0) or 0),
            "batch_size": embeddings.batch_size,
        }
        run.log(f"model loaded ({embeddings.backend}) in {run.result['model_load_s']} s")
        # 2. the sample corpus: embedding alone, then the whole ingest path
        texts, vectors = _sample_ingest(run, embeddings)
        # 3. queries at the sample size, in a fresh process
        run.log("measuring queries at the sample size (fresh process)")
        sample = _measure(run, settings.index_dir, embeddings)
        sample["size"] = "sample"
        sample["disk_mb"] = disk_mb(settings.index_dir)
        run.result.update({k: sample[k] for k in (
            "retrieve_p50_ms", "retrieve_p95_ms", "answer_p50_ms", "answer_p95_ms",
        )})  # fmt: skip
        run.result["peak_rss_mb"] = sample["peak_rss_mb"]
        run.result["eval"] = {k: sample[k] for k in (
            "questions", "hit_at_1", "hit_at_5", "answer_accuracy", "refusal_accuracy",
        )}  # fmt: skip
        # 4. the baseline
        run.log("baseline: the LangChain tutorial's RAG on the same questions")
        base = run_baseline(_articles(settings), questions, embeddings, run.tmp / "baseline")
        run.result["baseline"] = base
        run.result["ratios_ours_to_baseline"] = {
            "hit_at_1": ratio(sample["hit_at_1"], base["hit_at_1"]),
            "hit_at_5_vs_hit_at_4": ratio(sample["hit_at_5"], base["hit_at_4"]),
            "answer_accuracy": ratio(sample["answer_accuracy"], base["answer_accuracy"]),
            "answer_p50_ms": ratio(sample["answer_p50_ms"], base["answer_p50_ms"]),
            "answer_p95_ms": ratio(sample["answer_p95_ms"], base["answer_p95_ms"]),
            "ingest_chunks_per_s": ratio(
                run.result["ingest_chunks_per_s"], base["ingest_chunks_per_s"]
            ),
        }
        sizes = [sample]
        if not quick:
            # 5. embedding options
            run.result["embedding_options"] = _compare_options(
                run, embeddings, texts, vectors, sample
            )
            # 6. larger indexes
            sizes += _grow(run, embeddings)
            run.result["synthetic"] = SYNTHETIC_NOTE
        run.result["sizes"] = sizes
        run.result["memory_limit_mb"] = MEMORY_LIMIT_MB
        run.result["memory_ok"] = all(s["peak_rss_mb"] <= MEMORY_LIMIT_MB for s in sizes)
        run.result["load_average_end"] = load_average()
        run.result["bench_peak_rss_mb"] = memory_mb()[1]
        run.result["duration_s"] = round(time.perf_counter() - run.started, 1)
        if not quick:
            for folder in _plot_targets(out):
                plot_latency(sizes, folder / PLOT_NAME)
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            (out / "bench.json").write_text(json.dumps(run.result, indent=2) + "\n")
        print(format_report(run.result))
        if as_json:
            print(json.dumps(run.result))
        return 0
    finally:
        run.close()


def _plot_targets(out: Path | None) -> list[Path]:
    return [DOCS] + ([out] if out is not None else [])


def _articles(settings: Settings) -> list[Article]:
    from ingest.pipeline import read_paths

    articles, _skipped = read_paths([settings.sample_dir], max_bytes=10**9)
    return articles


def _sample_ingest(run: _Run, embeddings: Any) -> tuple[list[str], np.ndarray]:
    """Embedding alone, then the whole ingest path, on the sample corpus. Returns the chunk
    texts and their vectors."""
    from ingest.pipeline import ingest_paths
    from qa.index.store import open_store, spec_for

    settings = run.settings
    chunked = sample_chunks(_articles(settings), embeddings, settings)
    texts = passage_texts(chunked)
    embeddings.encode(texts[:16], query=False)  # warm-up
    run.log(f"embedding {len(texts)} chunk texts alone")
    t0 = time.perf_counter()
    vectors = embeddings.encode(texts, query=False)
    embed_s = time.perf_counter() - t0
    run.log(f"ingesting the sample corpus ({len(texts)} chunks) into a fresh index")
    timed = TimedEmbeddings(embeddings)
    t0 = time.perf_counter()
    store = open_store(settings, spec_for(settings, timed), for_writing=True)
    summary = ingest_paths([settings.sample_dir], store=store, embeddings=timed, settings=settings)
    ingest_s = time.perf_counter() - t0
    store.lexical.close()
    chunks = summary.new_chunks
    run.result.update(
        chunks=chunks,
        articles=summary.added,
        embed_chunks_per_s=round(len(texts) / embed_s, 2),
        ingest_chunks_per_s=round(chunks / ingest_s, 2),
        ingest_s=round(ingest_s, 2),
        ingest_embed_s=round(timed.seconds, 2),
        ingest_other_s=round(ingest_s - timed.seconds, 2),
        ingest_slower_than_embedding_pct=round(100 * (ingest_s / embed_s - 1), 1),
        # the same comparison within the ingest run itself, so immune to load changing between
        # the two measurements: what the non-embedding work adds to ingest's own embedding time
        ingest_overhead_over_its_embedding_pct=round(
            100 * (ingest_s - timed.seconds) / max(timed.seconds, 1e-9), 1
        ),
    )
    return texts, vectors


def _measure(run: _Run, index_dir: Path, embeddings: Any) -> dict[str, Any]:
    return measure_in_fresh_process(
        index_dir, QUESTIONS, backend=embeddings.backend,
        threads=int(getattr(run.settings, "embedding_threads", 0) or 0),
        batch_size=embeddings.batch_size,
    )  # fmt: skip


def _compare_options(
    run: _Run, default: Any, texts: list[str], reference: np.ndarray, sample: dict[str, Any]
) -> list[dict[str, Any]]:
    """Throughput of each embedding option, its agreement with the default's vectors, and the
    eval scores of an index built and queried with it. Scores are measured once per backend
    (threads and batch size do not change the vectors), and copied from an already scored backend
    whose vectors this one reproduces (cosine >= :data:`SAME_VECTORS`), as onnx fp32 does torch's;
    the default backend's scores are the sample run's."""
    import numpy as np
    import torch

    from ingest.pipeline import ingest_paths
    from qa.index.embeddings import SentenceEmbeddings, load_embeddings
    from qa.index.store import open_store, spec_for
    from qa.pipeline import Pipeline

    settings = run.settings
    default_threads = torch.get_num_threads()
    subset = texts[:OPTION_TEXTS]
    torch_model = default.model if default.backend == "torch" else None
    rows: list[dict[str, Any]] = []
    keys = ("hit_at_1", "hit_at_5", "answer_accuracy", "refusal_accuracy", "answer_p50_ms")
    scored: dict[str, dict[str, Any]] = {
        default.backend: {"cos_vs_default_min": 1.0, "cos_vs_default_mean": 1.0,
                          "eval_from": default.backend, **{k: sample[k] for k in keys}}
    }  # fmt: skip
    vectors_of: dict[str, np.ndarray] = {default.backend: np.asarray(reference)}
    try:
        for option in embedding_options(os.cpu_count() or 1):
            run.log(f"embedding option: {option.label}")
            opt_settings = settings.replace(embed_batch_size=option.batch_size)
            t0 = time.perf_counter()
            if option.backend == "torch" and torch_model is not None:
                # the same weights: only the thread count and batch size change
                torch.set_num_threads(option.threads)
                emb = SentenceEmbeddings(
                    torch_model, name=default.name, query_prefix=default.query_prefix,
                    passage_prefix=default.passage_prefix, batch_size=option.batch_size,
                )  # fmt: skip
            else:
                emb = load_embeddings(opt_settings, backend=option.backend, threads=option.threads)
                if option.backend == "torch":
                    torch_model = emb.model
            load_s = time.perf_counter() - t0
            emb.encode(subset[:16], query=False)
            per_s = best_throughput(partial(emb.encode, subset, query=False), len(subset))
            row: dict[str, Any] = {
                "option": option.label, "backend": option.backend, "threads": option.threads,
                "batch_size": option.batch_size, "load_s": round(load_s, 2),
                "chunks_per_s": round(per_s, 2),
            }  # fmt: skip
            if option.backend not in scored:
                vectors = np.asarray(emb.encode(texts, query=False))
                vectors_of[option.backend] = vectors
                cos = np.sum(vectors * np.asarray(reference), axis=1)
                twin = next(
                    (b for b, v in vectors_of.items() if b != option.backend
                     and float(np.sum(vectors * v, axis=1).min()) >= SAME_VECTORS),
                    None,
                )  # fmt: skip
                if twin is not None:
                    measured = {k: scored[twin][k] for k in keys}
                else:
                    folder = run.tmp / f"option-{option.backend}"
                    s = settings.replace(index_dir=folder)
                    timed = TimedEmbeddings(emb, known=dict(zip(texts, vectors, strict=True)))
                    store = open_store(s, spec_for(s, timed), for_writing=True)
                    ingest_paths([s.sample_dir], store=store, embeddings=timed, settings=s)
                    measured = measure_queries(Pipeline(s, emb, store), load_questions(QUESTIONS))
                    store.lexical.close()
                scored[option.backend] = {
                    "cos_vs_default_min": round(float(cos.min()), 4),
                    "cos_vs_default_mean": round(float(cos.mean()), 4),
                    "eval_from": twin or option.backend,
                    **{k: measured[k] for k in keys},
                }
            row.update(scored[option.backend])
            rows.append(row)
            del emb
            gc.collect()
    finally:
        torch.set_num_threads(default_threads)
    return rows


def _grow(run: _Run, embeddings: Any) -> list[dict[str, Any]]:
    """Grow the sample index with synthetic articles to each of :data:`SIZES` chunks; measure
    the write time (precomputed vectors), disk, and queries in a fresh process at each size."""
    from qa.index.store import open_store, spec_for

    settings = run.settings
    run.log("synthetic corpus: embedding each distinct sample sentence once (cached)")
    pool = sentence_pool(_articles(settings))
    counts = embeddings.count_tokens(pool)
    sentence_vecs = _sentence_vectors(pool, embeddings, settings.model_cache)
    title_tokens = max(embeddings.count_tokens(["Synthetisch artikel 000000"])[0], 1)
    budget = max(16, settings.chunk_tokens - title_tokens - 4)
    store = open_store(settings, spec_for(settings, embeddings), for_writing=True)
    rows = []
    number = 0
    try:
        for size in SIZES:
            missing = size - store.count()
            if missing <= 0:
                continue
            made = synthetic_articles(
                pool, counts, n_chunks=missing, budget=budget,
                overlap=settings.chunk_overlap_sentences, seed=size, first=number,
            )  # fmt: skip
            number += len(made)
            run.log(f"writing {missing} synthetic chunks ({len(made)} articles) -> {size}")
            vectors = [chunk_vectors(sentence_vecs, synthetic) for synthetic in made]
            t0 = time.perf_counter()
            with store.writing():  # one lock and one generation bump, as a batch ingest does
                for synthetic, vecs in zip(made, vectors, strict=True):
                    store.add_article(synthetic.article, list(synthetic.chunks), vecs)
            write_s = time.perf_counter() - t0
            del vectors
            run.log(f"measuring queries at {store.count()} chunks (fresh process)")
            measured = _measure(run, settings.index_dir, embeddings)
            measured.update(
                size=f"{size // 1000}k", synthetic_chunks=missing,
                write_s_per_1000_chunks=round(1000 * write_s / missing, 2),
                disk_mb=disk_mb(settings.index_dir),
            )  # fmt: skip
            rows.append(measured)
    finally:
        store.lexical.close()
    return rows


# --- output ---------------------------------------------------------------------------------------


def plot_latency(sizes: Sequence[dict[str, Any]], path: Path) -> None:
    """Retrieval and answer latency (p50, p95) against index size, log-scaled, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chunks = [s["chunks"] for s in sizes]
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for key, label, style in (
        ("retrieve_p50_ms", "hybrid retrieval p50", "o-"),
        ("retrieve_p95_ms", "hybrid retrieval p95", "o--"),
        ("answer_p50_ms", "offline answer p50", "s-"),
        ("answer_p95_ms", "offline answer p95", "s--"),
    ):
        ax.plot(chunks, [s[key] for s in sizes], style, label=label)
    ax.axhline(250, color="grey", linestyle=":", linewidth=1, label="retrieval p95 target (100k)")
    ax.set_xscale("log")
    ax.set_xlabel("chunks in the index (10k and 100k: sample + synthetic articles)")
    ax.set_ylabel("ms per question")
    ax.set_title("Vraagbaak latency against index size (2 cores)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def format_report(result: dict[str, Any]) -> str:
    """The results as a few readable tables."""
    r = result
    emb = r.get("embedding", {})
    lines = [
        f"Vraagbaak bench ({r['mode']}): {emb.get('model')} via {emb.get('backend')}, "
        f"{r.get('cores')} cores, load average {r.get('load_average_start')} -> "
        f"{r.get('load_average_end')}",
        "",
        f"sample corpus: {r['chunks']} chunks from {r['articles']} articles",
        f"  embedding alone      {r['embed_chunks_per_s']:>8} chunks/s",
        f"  whole ingest         {r['ingest_chunks_per_s']:>8} chunks/s "
        f"({r['ingest_slower_than_embedding_pct']}% slower than embedding alone; "
        f"embedding {r['ingest_embed_s']} s + the rest {r['ingest_other_s']} s, "
        f"+{r['ingest_overhead_over_its_embedding_pct']}%)",
        "",
        f"{'size':<8}{'chunks':>8}{'retr p50':>10}{'retr p95':>10}{'ans p50':>9}{'ans p95':>9}"
        f"{'RSS MB':>8}{'peak MB':>9}{'disk MB':>9}{'write s/1k':>11}",
    ]
    for s in r["sizes"]:
        lines.append(
            f"{s['size']:<8}{s['chunks']:>8}{s['retrieve_p50_ms']:>10}{s['retrieve_p95_ms']:>10}"
            f"{s['answer_p50_ms']:>9}{s['answer_p95_ms']:>9}{s['rss_mb']:>8}{s['peak_rss_mb']:>9}"
            f"{s['disk_mb']:>9}{s.get('write_s_per_1000_chunks', '-'):>11}"
        )
    if r.get("synthetic"):
        lines.append(f"  ({r['synthetic']})")
    e, b, q = r["eval"], r["baseline"], r["ratios_ours_to_baseline"]
    lines += [
        "",
        f"quality on {e['questions']} eval questions   ours    baseline   ours/baseline",
        f"  hit@1                          {_pct(e['hit_at_1'])}  {_pct(b['hit_at_1'])}"
        f"   {q['hit_at_1']}",
        f"  hit@5 (baseline: hit@4)        {_pct(e['hit_at_5'])}  {_pct(b['hit_at_4'])}"
        f"   {q['hit_at_5_vs_hit_at_4']}",
        f"  answer accuracy                {_pct(e['answer_accuracy'])}  "
        f"{_pct(b['answer_accuracy'])}   {q['answer_accuracy']}",
        f"  refusal accuracy               {_pct(e['refusal_accuracy'])}  "
        f"{_pct(b['refusal_accuracy'])}",
        f"  answer p50 / p95 (ms)          {r['answer_p50_ms']} / {r['answer_p95_ms']}   "
        f"{b['answer_p50_ms']} / {b['answer_p95_ms']}   "
        f"{q['answer_p50_ms']} / {q['answer_p95_ms']}",
        f"  (baseline: RecursiveCharacterTextSplitter {BASELINE_CHUNK_CHARS}/"
        f"{BASELINE_OVERLAP_CHARS} -> {b['chunks']} chunks, same model, langchain_chroma, k=4, "
        "the top chunk is the answer and its article is cited)",
    ]
    if r.get("embedding_options"):
        lines += ["", f"{'embedding option':<36}{'chunks/s':>9}{'hit@5':>8}{'accuracy':>10}"
                  f"{'cos min':>9}"]  # fmt: skip
        for o in r["embedding_options"]:
            lines.append(
                f"{o['option']:<36}{o['chunks_per_s']:>9}{_pct(o['hit_at_5']):>8}"
                f"{_pct(o['answer_accuracy']):>10}{o['cos_vs_default_min']:>9}"
            )
    lines += [
        "",
        f"memory: peak {max(s['peak_rss_mb'] for s in r['sizes'])} MB "
        f"(limit {r['memory_limit_mb']} MB: {'ok' if r['memory_ok'] else 'OVER'}); "
        f"run took {r['duration_s']} s",
    ]
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "   n/a" if value is None else f"{value:6.1%}"


__all__ = [
    "SyntheticArticle",
    "baseline_documents",
    "baseline_record",
    "chunk_vectors",
    "format_report",
    "latency_summary",
    "plot_latency",
    "run_bench",
    "sentence_pool",
    "synthetic_articles",
]

if __name__ == "__main__":
    sys.exit(_worker(sys.argv[1:]))
