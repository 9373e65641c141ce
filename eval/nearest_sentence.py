"""The "most similar sentence" baseline (a development tool, not part of the app).

    python eval/nearest_sentence.py --index DIR [--questions eval/questions.jsonl]

Over the same retrieved passages as the answerer, answer with the one sentence whose embedding
is closest to the question's, never refusing. Prints its answer accuracy (the same rule as
``qa eval``: the keywords, the gold article, at most 350 characters) and the ceiling: the share
of answerable questions for which some retrieved sentence would pass.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from qa.measure.evaluate import Question
from qa.runtime import prepare_environment
from qa.types import Hit


def main() -> None:
    prepare_environment()
    import numpy as np

    from qa.index.retrieval import NO_FILTERS, query_vector
    from qa.measure.evaluate import MAX_ANSWER_CHARS, has_keywords, load_questions, same_article
    from qa.pipeline import build_pipeline
    from qa.settings import Settings

    ap = argparse.ArgumentParser()
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--questions", type=Path, default=Path("eval/questions.jsonl"))
    args = ap.parse_args()
    pipe = build_pipeline(Settings.from_env().replace(index_dir=args.index))
    right = ceiling = n = 0
    for q in load_questions(args.questions):
        if q.doc is None:
            continue
        n += 1
        query = pipe.rewrite(q.q, q.history, [])
        vector = query_vector(pipe.embeddings, query)
        topic = pipe.topic_article(q.q, q.history, NO_FILTERS)
        hits = pipe.retriever.retrieve(
            query, k=pipe.settings.top_k, vector=vector, prefer_article=topic
        )
        sentences = [(h, text) for h in hits for _, _, text in h.sentence_texts()]
        vectors = np.asarray(pipe._encode_sentences([t for _, t in sentences]))  # noqa: SLF001

        def passes(hit: Hit, text: str, q: Question = q) -> bool:
            ok = same_article(hit.article_id, q.doc or "") and has_keywords(text, q)
            return ok and len(text) <= MAX_ANSWER_CHARS

        right += passes(*sentences[int((vectors @ np.asarray(vector)).argmax())])
        ceiling += any(passes(h, t) for h, t in sentences)
    print(f"nearest-sentence answer accuracy {right / n:.1%}; ceiling {ceiling / n:.1%} (n={n})")


if __name__ == "__main__":
    main()
