"""Fit the offline answerer's weights on the eval set (a development tool, not part of the app).

    python eval/calibrate.py --index DIR [--questions eval/questions.jsonl]

For every answerable question, every candidate sentence of the retrieved passages is labelled
positive when it comes from the gold article and contains the answer keywords. A logistic
regression over ``qa.extractive`` features gives the weights; the script then replays the real
two-stage procedure (dense scores for the best few only) and reports top-1 accuracy and refusal
figures for a range of confidence thresholds. Paste the printed weights into qa/extractive.py.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from qa.runtime import prepare_environment


def main() -> None:
    prepare_environment()
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--questions", type=Path, default=Path("eval/questions.jsonl"))
    ap.add_argument("--cache", type=Path, default=Path("/tmp/calibrate-cache.json"))
    args = ap.parse_args()

    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from qa import extractive
    from qa.pipeline import build_pipeline
    from qa.retrieval import query_vector
    from qa.settings import Settings
    from qa.text import fold

    pipe = build_pipeline(Settings.from_env().replace(index_dir=args.index))
    items = [json.loads(line) for line in args.questions.read_text().splitlines() if line.strip()]
    names = list(extractive.WEIGHTS)

    rows = []  # per question: list of (features with full dense, stage1 features, label)
    for n, item in enumerate(items, start=1):
        print(f"{n}/{len(items)}", end="\r", flush=True, file=sys.stderr)
        query = pipe.rewrite(item["q"], item.get("history", []), [])
        vector = query_vector(pipe.embeddings, query)
        hits = pipe.retriever.retrieve(query, k=pipe.settings.top_k, vector=vector)
        doc_freq = pipe._doc_freq  # noqa: SLF001
        cands = extractive.candidates(query, hits, doc_freq=doc_freq)
        if not cands:
            rows.append((item, []))
            continue
        full = extractive.add_dense(cands, vector, pipe._encode_sentences, top=30)  # noqa: SLF001
        keys = [fold(k) for k in item.get("all") or item.get("any") or []]
        need_all = bool(item.get("all"))
        out = []
        for c in full:
            text = fold(c.text)
            hit_kw = all(k in text for k in keys) if need_all else any(k in text for k in keys)
            label = bool(item.get("doc")) and c.hit.article_id == item["doc"] and hit_kw
            out.append((c, label))
        rows.append((item, out))

    X = np.array([[c.features[n] for n in names] for _, out in rows for c, _ in out])
    y = np.array([lab for _, out in rows for _, lab in out])
    model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000).fit(X, y)
    weights = dict(zip(names, (round(float(w), 3) for w in model.coef_[0]), strict=True))
    bias = round(float(model.intercept_[0]), 3)
    print("WEIGHTS =", json.dumps(weights, indent=4))
    print("BIAS =", bias)

    def replay(top: int) -> list[tuple[dict, bool, float]]:
        results = []
        for item, out in rows:
            if not out:
                results.append((item, False, 0.0))
                continue
            stage1 = sorted(out, key=lambda p: _logit(p[0].features, weights, bias, stage1=True))
            head = {id(p[0]) for p in stage1[-top:]}
            best = max(
                out,
                key=lambda p: _logit(p[0].features, weights, bias, stage1=id(p[0]) not in head),
            )
            conf = 1 / (1 + math.exp(-_logit(best[0].features, weights, bias, stage1=False)))
            results.append((item, best[1], conf))
        return results

    for top in (6, 12, 20):
        res = replay(top)
        answerable = [r for r in res if not r[0].get("refuse")]
        print(f"top={top}: top-1 correct {sum(r[1] for r in answerable) / len(answerable):.3f}")
    res = replay(extractive.DENSE_RERANK)
    for threshold in (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5):
        ans = [r for r in res if not r[0].get("refuse")]
        una = [r for r in res if r[0].get("refuse")]
        acc = sum(r[1] and r[2] >= threshold for r in ans) / len(ans)
        false_ref = sum(r[2] < threshold for r in ans) / len(ans)
        ref = sum(r[2] < threshold for r in una) / max(len(una), 1)
        print(f"threshold {threshold}: acc {acc:.3f} false refusals {false_ref:.3f} refusals {ref:.3f}")


def _logit(features: dict[str, float], weights: dict[str, float], bias: float, *, stage1: bool) -> float:
    f = dict(features)
    if stage1:
        f["dense"] = f["passage_dense"]
    return bias + sum(weights[k] * f[k] for k in weights)


if __name__ == "__main__":
    main()
