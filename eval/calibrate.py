"""Fit the offline answerer's weights on eval sets (a development tool, not part of the app).

    python eval/calibrate.py --set DIR:eval/questions.jsonl [--set DIR2:QUESTIONS ...]

Each ``--set`` pairs an index with the questions asked of it. With more than one set, it also
reports leave-one-set-out: weights fit on the other sets, top-1 measured on the one left out,
against the weights in ``qa/answer/extractive.py``.

1. For every question, every candidate sentence of the retrieved passages is scored with
   ``qa.answer.extractive`` features (the best 30 also get a sentence embedding) and labelled
   positive
   when it comes from the gold article and contains the answer keywords. This is cached.
2. A pairwise logistic regression (positive minus negative candidates of the same question)
   gives ranking weights; the real two-stage procedure is replayed to report top-1 accuracy.
3. Refusal thresholds on the best candidate's absolute evidence are searched on a grid.
Paste the printed constants into qa/answer/extractive.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from qa.runtime import prepare_environment

RANKING = ["lexical", "context", "bigram", "order", "passage", "passage_dense", "typed",
           "novelty", "first", "dense", "roles", "local", "named"]  # fmt: skip


def collect(index: Path, questions: Path) -> list[dict]:
    from qa.answer import extractive
    from qa.index.retrieval import query_vector
    from qa.pipeline import build_pipeline
    from qa.settings import Settings
    from qa.text import fold

    pipe = build_pipeline(Settings.from_env().replace(index_dir=index))
    items = [json.loads(line) for line in questions.read_text().splitlines() if line.strip()]
    rows = []
    for n, item in enumerate(items, start=1):
        print(f"{n}/{len(items)}", end="\r", flush=True, file=sys.stderr)
        query = pipe.rewrite(item["q"], item.get("history", []), [])
        vector = query_vector(pipe.embeddings, query)
        topic = pipe.topic_article(item["q"], item.get("history", []), extractive_filters())
        hits = pipe.retriever.retrieve(
            query, k=pipe.settings.top_k, vector=vector, prefer_article=topic
        )
        passages = extractive.Passages(hits, pipe.store.article_chunks).passages()
        cands = extractive.candidates(query, passages, doc_freq=pipe._doc_freq)  # noqa: SLF001
        cands = extractive.add_dense(cands, vector, pipe._encode_sentences, top=30)  # noqa: SLF001
        keys = [fold(k) for k in item.get("all") or item.get("any") or []]
        out = []
        for c in cands:
            text = fold(c.text)
            ok = all(k in text for k in keys) if item.get("all") else any(k in text for k in keys)
            label = bool(item.get("doc")) and c.hit.article_id == item["doc"] and ok
            out.append({"f": c.features, "label": label, "missing": False})
        rows.append(
            {"item": item, "cands": out, "typed_q": extractive.expected_type(query) is not None}
        )
    return rows


def extractive_filters():  # type: ignore[no-untyped-def]
    from qa.index.retrieval import NO_FILTERS

    return NO_FILTERS


def main() -> None:
    prepare_environment()
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", action="append", required=True, metavar="INDEX:QUESTIONS")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/calibrate-cache"))
    args = ap.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    sets: dict[str, list[dict]] = {}
    for spec in args.set:
        index, questions = spec.split(":", 1)
        cache = args.cache / (Path(questions).parent.name + "-" + Path(questions).stem + ".json")
        if cache.exists():
            rows = json.loads(cache.read_text())
        else:
            rows = collect(Path(index), Path(questions))
            cache.write_text(json.dumps(rows))
        sets[questions] = rows
    fit([row for rows in sets.values() for row in rows])
    if len(sets) > 1:
        from qa.answer.extractive import WEIGHTS

        print(
            "leave one set out: top-1 with weights fit on the others / with qa.answer.extractive's"
        )
        for name, rows in sets.items():
            others = [row for other, rs in sets.items() if other != name for row in rs]
            fitted = pairwise_weights(others)
            print(f"  {name}: {top1(rows, fitted):.3f} / {top1(rows, WEIGHTS):.3f}")


def pairwise_weights(rows: list[dict]) -> dict[str, float]:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    diffs, ys = [], []
    for row in rows:
        pos = [c for c in row["cands"] if c["label"]]
        neg = [c for c in row["cands"] if not c["label"]]
        for p in pos:
            for n in neg[:40]:
                d = [p["f"][k] - n["f"][k] for k in RANKING]
                diffs += [d, [-x for x in d]]
                ys += [1, 0]
    model = LogisticRegression(C=0.5, fit_intercept=False, max_iter=5000).fit(np.array(diffs), ys)
    return {k: round(float(w), 3) for k, w in zip(RANKING, model.coef_[0], strict=True)}


def top1(rows: list[dict], weights: dict[str, float]) -> float:
    """Share of answerable questions whose best candidate (two stages, as in the answerer)
    holds the answer."""

    def logit(f: dict, stage1: bool) -> float:
        g = dict(f)
        if stage1:
            g["dense"] = g["passage_dense"]
        return sum(weights.get(k, 0.0) * g[k] for k in RANKING)

    answerable = [r for r in rows if not r["item"].get("refuse") and r["cands"]]
    right = 0
    for row in answerable:
        head = sorted(row["cands"], key=lambda c: logit(c["f"], True), reverse=True)[:12]
        right += max(head, key=lambda c: logit(c["f"], False))["label"]
    return right / max(len(answerable), 1)


def fit(rows: list[dict]) -> None:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    # 1. pairwise ranking
    diffs, ys = [], []
    for row in rows:
        pos = [c for c in row["cands"] if c["label"]]
        neg = [c for c in row["cands"] if not c["label"]]
        for p in pos:
            for n in neg[:40]:
                d = [p["f"][k] - n["f"][k] for k in RANKING]
                diffs += [d, [-x for x in d]]
                ys += [1, 0]
    model = LogisticRegression(C=0.5, fit_intercept=False, max_iter=5000).fit(np.array(diffs), ys)
    weights = {k: round(float(w), 3) for k, w in zip(RANKING, model.coef_[0], strict=True)}
    print("WEIGHTS =", json.dumps(weights, indent=4))

    def logit(f: dict, stage1: bool) -> float:
        g = dict(f)
        if stage1:
            g["dense"] = g["passage_dense"]
        return sum(weights[k] * g[k] for k in RANKING)

    best_of = []
    for row in rows:
        cands = row["cands"]
        if not cands:
            best_of.append(None)
            continue
        stage1 = sorted(cands, key=lambda c: logit(c["f"], True), reverse=True)
        head = stage1[:12]
        best_of.append(max(head, key=lambda c: logit(c["f"], False)))
    answerable = [(r, b) for r, b in zip(rows, best_of, strict=True) if not r["item"].get("refuse")]
    unanswerable = [(r, b) for r, b in zip(rows, best_of, strict=True) if r["item"].get("refuse")]
    print(
        f"top-1 correct: {sum(bool(b and b['label']) for _, b in answerable) / len(answerable):.3f}"
    )

    # 2. refusal thresholds on absolute evidence
    results = []
    for dense_min in np.arange(0.78, 0.90, 0.01):
        for lex_min in np.arange(0.0, 0.7, 0.05):

            def refuse(b: dict | None) -> bool:
                if b is None or b["missing"]:
                    return True
                return b["f"]["dense_raw"] < dense_min and b["f"]["lexical_raw"] < lex_min  # noqa: B023

            acc = sum(bool(b and b["label"]) and not refuse(b) for _, b in answerable) / len(
                answerable
            )
            false_ref = sum(refuse(b) for _, b in answerable) / len(answerable)
            ref = sum(refuse(b) for _, b in unanswerable) / max(len(unanswerable), 1)
            results.append(
                (
                    acc + 0.5 * ref - 0.5 * max(0.0, false_ref - 0.1),
                    dense_min,
                    lex_min,
                    acc,
                    false_ref,
                    ref,
                )
            )
    for r in sorted(results, reverse=True)[:8]:
        _, dense_min, lex_min, acc, false_ref, ref = r
        print(
            f"dense<{dense_min:.2f} and lexical<{lex_min:.2f}: acc {acc:.3f} "
            f"false refusals {false_ref:.3f} refusals {ref:.3f}"
        )


if __name__ == "__main__":
    main()
