"""``python -m qa``: ask a question, run the eval set, or run the benchmarks.

    python -m qa ask "Wat gaf Poetin aan Kim?" --index DIR [--llm SPEC] [--json]
    python -m qa eval eval/questions.jsonl --index DIR --out results.jsonl
    python -m qa bench [--quick] [--json]
    python -m qa feedback [--index DIR] [--review OUT.jsonl]
    python -m qa train-reader [--data DIR] [--out DIR]

Settings come from ``VRAAGBAAK_*`` variables, then flags. Domain errors end as one clear line on
stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from qa.runtime import prepare_environment


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", type=Path, help="index folder (VRAAGBAAK_INDEX)")
    p.add_argument("--chroma-url", help="use a Chroma server, e.g. http://127.0.0.1:8000")
    p.add_argument("--collection", help="collection name (default: vraagbaak)")
    p.add_argument("--model", dest="embedding_model", help="embedding model: id or folder")
    p.add_argument("--llm", help="none (default), openai:MODEL, ollama:MODEL, hf:REPO, "
                   "llamacpp:PATH.gguf")  # fmt: skip
    p.add_argument("--reranker", help="cross-encoder model id or folder (optional)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m qa", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    ask = sub.add_parser("ask", help="answer one question")
    ask.add_argument("question")
    ask.add_argument("--history", action="append", default=[], help="an earlier question")
    ask.add_argument("--source", action="append", default=[], help="only this source/outlet")
    ask.add_argument("--from", dest="date_from", help="only articles from this date (YYYY-MM-DD)")
    ask.add_argument("--to", dest="date_to", help="only articles up to this date")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON (last line)")
    _common(ask)

    ev = sub.add_parser("eval", help="score the answerer on a questions file")
    ev.add_argument("questions", type=Path)
    ev.add_argument("--out", type=Path, help="write per-question results (JSONL)")
    ev.add_argument("--json", action="store_true", help="print the metrics as JSON (last line)")
    _common(ev)

    bench = sub.add_parser("bench", help="measure speed, memory and quality")
    bench.add_argument("--quick", action="store_true", help="the sample corpus only (< 3 min)")
    bench.add_argument("--json", action="store_true", help="print the results as JSON (last line)")
    bench.add_argument("--out", type=Path, help="folder for the report and plot")

    train = sub.add_parser(
        "train-reader", help="train the reader from data/reader (2 cores: minutes)"
    )
    train.add_argument("--data", type=Path, help="folder with train-*.jsonl (default: data/reader)")
    train.add_argument("--out", type=Path, help="weights folder (default: qa/answer/weights)")
    train.add_argument(
        "--limit", type=int, help="only the first N articles of each file (a quick run)"
    )
    train.add_argument("--cache", type=Path, help="embedding cache (default: .cache/reader)")

    fb = sub.add_parser("feedback", help="summarise the app's 👍/👎 feedback")
    fb.add_argument("--index", type=Path, help="index folder (VRAAGBAAK_INDEX)")
    fb.add_argument("--review", type=Path, help="write each 👎 as an eval line to complete")
    return parser


def main(argv: list[str] | None = None) -> int:
    prepare_environment()
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from qa.errors import VraagbaakError

    try:
        if args.command == "bench":
            from qa.measure.bench import run_bench

            return run_bench(quick=args.quick, as_json=args.json, out=args.out)
        if args.command == "train-reader":
            return _train_reader(args)
        if args.command == "feedback":
            from qa.app.feedback import run_feedback
            from qa.settings import Settings

            settings = Settings.from_env().replace(index_dir=args.index)
            return run_feedback(settings, review=args.review)
        settings = _settings(args)
        from qa.pipeline import build_pipeline

        pipeline = build_pipeline(settings, hf_token=os.environ.get("HF_TOKEN"))
        if args.command == "ask":
            return _ask(pipeline, args)
        from qa.measure.evaluate import run_eval

        return run_eval(pipeline, args.questions, out=args.out, as_json=args.json)
    except VraagbaakError as err:
        print(f"Fout: {err}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as err:
        print(f"Fout: {err}", file=sys.stderr)
        return 2


def _train_reader(args: argparse.Namespace) -> int:
    """Reproduce the reader's weights from the repo's data (see qa.answer.training)."""
    from qa.answer.reader import WEIGHTS_DIR
    from qa.answer.training import DATA_DIR, train_reader
    from qa.index.embeddings import load_embeddings
    from qa.settings import REPO_ROOT, Settings

    command = "python -m qa train-reader" + "".join(
        f" --{k} {v}" for k, v in (("data", args.data), ("limit", args.limit)) if v
    )
    report = train_reader(
        load_embeddings(Settings.from_env()), data_dir=args.data or DATA_DIR,
        out_dir=args.out or WEIGHTS_DIR, limit=args.limit, command=command,
        cache_path=args.cache or REPO_ROOT / ".cache" / "reader" / "embeddings.npz",
        progress=lambda line: print(line, flush=True),
    )  # fmt: skip
    print("Geschreven: " + ", ".join(str(f) for f in report.files))
    return 0


def _settings(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from qa.settings import Settings

    settings = Settings.from_env().replace(
        index_dir=args.index, chroma_url=args.chroma_url, collection=args.collection,
        embedding_model=args.embedding_model, llm=args.llm, reranker=args.reranker,
    )  # fmt: skip
    if settings.llm.startswith("openai:") and not settings.llm_api_key:
        settings = settings.replace(llm_api_key=os.environ.get("OPENAI_API_KEY"))
    return settings


def _ask(pipeline, args: argparse.Namespace) -> int:  # type: ignore[no-untyped-def]
    from qa.index.retrieval import Filters

    filters = Filters(tuple(args.source), args.date_from, args.date_to)
    answer = pipeline.ask(args.question, args.history, filters)
    if args.json:
        print(json.dumps(answer.to_json(), ensure_ascii=False))
        return 0
    print(answer.answer)
    if answer.query != args.question:
        print(f"\n(gezocht op: {answer.query})")
    for w in answer.warnings:
        print(f"Let op: {w}")
    if answer.sources:
        print("\nBronnen:")
    for s in answer.sources:
        meta = ", ".join(x for x in (s.source, s.date, s.url) if x)
        mark = "*" if s.n in answer.cited else " "
        print(f"{mark}[{s.n}] {s.title}" + (f" ({meta})" if meta else ""))
        for sentence in s.sentences:
            print(f'     "{sentence}"')
    if answer.searched:
        print("\nOok doorzocht: " + "; ".join(answer.searched))
    return 0
