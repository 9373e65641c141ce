"""Fit the offline answerer's weights on the eval set (a development tool, not part of the app).

    python eval/calibrate.py --index DIR [--questions eval/questions.jsonl]

1. For every question, every candidate sentence of the retrieved passages is scored with
   ``qa.extractive`` features (the best 30 also get a sentence embedding) and labelled positive
   when it comes from the gold article and contains the answer keywords. This is cached.
2. A pairwise logistic regression (positive minus negative candidates of the same question)
   gives ranking weights; the real two-stage procedure is replayed to report top-1 accuracy.
3. Refusal thresholds on the best candidate's absolute evidence are searched on a grid.
Paste the printed constants into qa/extractive.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from qa.runtime import prepare_environment

RANKING = ["lexical", "context", "bigram", "order", "passage", "passage_dense", "typed",
           "novelty", "first", "dense"]  # fmt: skip


def collect(index: Path, questions: Path) -> list[dict]:
    from qa import extractive
    from qa.pipeline import build_pipeline
    from qa.retrieval import query_vector
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
    from qa.retrieval import NO_FILTERS

    return NO_FILTERS


def main() -> None:
    prepare_environment()
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--questions", type=Path, default=Path("eval/questions.jsonl"))
    ap.add_argument("--cache", type=Path, default=Path("/tmp/calibrate-cache.json"))
    args = ap.parse_args()
    if args.cache.exists():
        rows = json.loads(args.cache.read_text())
    else:
        rows = collect(args.index, args.questions)
        args.cache.write_text(json.dumps(rows))
    fit(rows)


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
