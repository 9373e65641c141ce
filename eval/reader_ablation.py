"""Ablation of the reader's feature families on held-out domains of the training data.

    python eval/reader_ablation.py [--out results.json]

For each variant (the reader with all features, the base features only, base plus one family,
all but one family) the ranker and the refusal model are cross-fit by domain exactly as
``python -m qa train-reader`` does, thresholds calibrated on the held-out scores, and the
held-out figures printed: top-1 (the best sentence holds the answer), answer accuracy (the
answer holds it and is not refused), unanswerable questions refused, answerable ones refused,
and the refusal model's AUC. Nothing here reads an eval set.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    from qa.runtime import prepare_environment

    prepare_environment()
    from qa.answer import training
    from qa.answer.reader import FAMILIES, FEATURES
    from qa.index.embeddings import load_embeddings
    from qa.settings import REPO_ROOT, Settings

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, help="write the table as JSON")
    args = ap.parse_args()
    examples = training.build_examples(
        training.load_data(),
        load_embeddings(Settings.from_env()),
        cache_path=REPO_ROOT / ".cache" / "reader" / "embeddings.npz",
        progress=print,
    )
    base = FAMILIES["base"]
    variants: dict[str, tuple[str, ...]] = {"reader (all features)": FEATURES, "base only": base}
    for family, names in FAMILIES.items():
        if family != "base":
            variants[f"base + {family}"] = (*base, *names)
            variants[f"all but {family}"] = tuple(f for f in FEATURES if f not in names)
    table = {}
    print("| variant | top-1 | answer accuracy | unanswerable refused | answerable refused | AUC |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, features in variants.items():
        fit = training.cross_fit(examples, features)
        m = training.held_out_metrics(examples, fit, training.calibrate(examples, fit))
        table[name] = m
        print(
            f"| {name} | {m['top1']:.3f} | {m['answer_accuracy']:.3f} | "
            f"{m['unanswerable_refused']:.3f} | {m['answerable_refused']:.3f} | "
            f"{m['refusal_auc']:.3f} |",
            flush=True,
        )
    if args.out:
        args.out.write_text(json.dumps(table, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
