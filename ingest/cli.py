"""``python -m ingest PATH... --index DIR``: the ingestion command.

Settings come from ``VRAAGBAAK_*`` variables, then flags. Domain errors end as one clear line on
stderr and exit code 2; bad files are skipped with their reasons and never stop the rest.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from qa.runtime import prepare_environment


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m ingest",
        description="Add Dutch articles (files, folders, URLs, feeds) to the Vraagbaak index.",
    )
    p.add_argument("paths", nargs="*", help="files or folders (recursively), or article URLs")
    p.add_argument("--index", type=Path, help="index folder (VRAAGBAAK_INDEX)")
    p.add_argument("--chroma-url", help="use a Chroma server, e.g. http://127.0.0.1:8000")
    p.add_argument("--collection", help="collection name (default: vraagbaak)")
    p.add_argument("--model", dest="embedding_model", help="embedding model: id or folder")
    p.add_argument("--chunk-tokens", type=int, help="chunk size in model tokens (default 160)")
    p.add_argument("--max-file-mb", type=float, help="skip files larger than this (default 20)")
    p.add_argument("--reset", action="store_true", help="delete the index first and rebuild")
    p.add_argument("--prune", action="store_true", help="drop articles whose files are gone")
    p.add_argument("--json", action="store_true", help="print the summary as JSON (last line)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    prepare_environment()
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    from ingest.pipeline import index_spec, ingest_paths
    from qa.embeddings import load_embeddings
    from qa.errors import VraagbaakError
    from qa.settings import Settings
    from qa.store import open_store

    if not args.paths:
        print("Geef minstens één bestand, map of URL op.", file=sys.stderr)
        return 2
    try:
        settings = Settings.from_env().replace(
            index_dir=args.index, chroma_url=args.chroma_url, collection=args.collection,
            embedding_model=args.embedding_model, chunk_tokens=args.chunk_tokens,
            max_file_mb=args.max_file_mb,
        )  # fmt: skip
        embeddings = load_embeddings(settings)
        store = open_store(
            settings, index_spec(settings, embeddings), for_writing=True, reset=args.reset
        )
        with _progress_bar(enabled=not args.quiet and sys.stderr.isatty()) as progress:
            summary = ingest_paths(
                [Path(p) for p in args.paths], store=store, embeddings=embeddings,
                settings=settings, prune=args.prune, progress=progress,
            )  # fmt: skip
    except VraagbaakError as err:
        print(f"Fout: {err}", file=sys.stderr)
        return 2
    except ValueError as err:
        print(f"Fout: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Onderbroken; wat al geschreven was, blijft staan. Draai opnieuw om af te maken.",
              file=sys.stderr)  # fmt: skip
        return 130

    _print_summary(summary, as_json=args.json)
    return 0 if summary.ingested or not (summary.skipped) else 1


class _progress_bar:  # noqa: N801 - used as a context manager
    """A tqdm bar counting articles, with the chunk count alongside; silent when not a terminal."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.bar = None

    def __enter__(self):  # type: ignore[no-untyped-def]
        if not self.enabled:
            return None
        from tqdm import tqdm

        def update(p):  # type: ignore[no-untyped-def]
            if self.bar is None:
                self.bar = tqdm(total=p.articles_total, unit="artikel", file=sys.stderr)
            self.bar.n = p.articles_done
            self.bar.set_postfix(chunks=p.chunks_done, refresh=False)
            self.bar.refresh()

        return update

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()


def _print_summary(summary, *, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    lines = [
        f"Toegevoegd: {summary.added}, bijgewerkt: {summary.updated}, "
        f"ongewijzigd: {summary.unchanged}, overgeslagen: {len(summary.skipped)}"
        + (f", verwijderd: {summary.pruned}" if summary.pruned else ""),
        f"Chunks in de index: {summary.chunks}",
    ]
    for s in summary.skipped:
        lines.append(f"  overgeslagen: {s.path}: {s.reason}")
    for n in summary.notes:
        lines.append(f"  let op: {n.path}: {n.reason}")
    print("\n".join(lines), file=sys.stderr if as_json else sys.stdout)
    if as_json:
        print(json.dumps(summary.to_json(), ensure_ascii=False))
