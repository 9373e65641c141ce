"""The question-answering pipeline, top to bottom:

    validate -> rewrite follow-up -> retrieve (hybrid) -> extract (offline answerer, always)
    -> [generate with the LLM, check citations; on failure fall back] -> Answer

``Pipeline`` receives its parts (embeddings, store, optional chat model and reranker); it builds
none of them. ``build_pipeline`` is the factory that does, from ``Settings``, for the edges.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from langchain_core.embeddings import Embeddings

from qa.answer.citations import REFUSAL
from qa.answer.extractive import Extraction, Pick, extract_answer
from qa.answer.followup import rewrite_offline
from qa.answer.question import Question, parse_question
from qa.answer.reader import Reader
from qa.answer.sources import ArticleReader, Cited, cite, cite_passages, searched_titles
from qa.errors import IndexEmptyError, InvalidQuestionError, LLMError
from qa.index.retrieval import NO_FILTERS, Filters, HybridRetriever, Reranker, query_vector
from qa.index.store import ChunkStore
from qa.settings import Settings
from qa.types import Answer, Hit

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

log = logging.getLogger(__name__)


@dataclass
class Pipeline:
    settings: Settings
    embeddings: Embeddings
    store: ChunkStore
    llm: BaseChatModel | None = None
    reranker: Reranker | None = None
    reader: Reader = field(default_factory=Reader)
    retriever: HybridRetriever = field(init=False)

    def __post_init__(self) -> None:
        self.retriever = HybridRetriever(
            self.store, self.embeddings, candidates=self.settings.candidates,
            per_article=self.settings.per_article, reranker=self.reranker,
        )  # fmt: skip

    @property
    def mode(self) -> str:
        return "offline" if self.llm is None else self.settings.llm

    def ask(
        self, question: str, history: Sequence[str] = (), filters: Filters = NO_FILTERS
    ) -> Answer:
        """The whole answer at once (the CLI, the API and the eval use this)."""
        final: Answer | None = None
        for event in self.stream(question, history, filters):
            if isinstance(event, Answer):
                final = event
        assert final is not None  # stream always ends with an Answer
        return final

    def stream(
        self, question: str, history: Sequence[str] = (), filters: Filters = NO_FILTERS
    ) -> Iterator[str | Answer]:
        """Text deltas while an LLM writes, then always the final, checked ``Answer``."""
        # 1. validate
        question = self.validate(question)
        self.store.refresh_if_changed(min_interval_s=self.settings.refresh_s)
        if self.store.count() == 0:
            raise IndexEmptyError(
                "De index bevat nog geen artikelen. Voeg artikelen toe (uploaden, of: "
                "python -m ingest data/articles)."
            )
        warnings: list[str] = []
        # 2. the question analysed once; follow-ups become standalone queries
        parsed = parse_question(question, history)
        query = self.rewrite(question, history, warnings) if self.llm else parsed.query
        # 3. retrieve; a follow-up favours the article the conversation was about
        vector = query_vector(self.embeddings, query)
        topic = self.topic_article(parsed, filters)
        hits = self.retriever.retrieve(
            query, k=self.settings.top_k, filters=filters, vector=vector, prefer_article=topic
        )
        # 4. the offline answer: the answer without an LLM, and the fallback with one
        extraction = extract_answer(
            parsed, hits, reader=self.reader, query_vector=vector,
            encode=self._encode_sentences, doc_freq=self._doc_freq,
            read_article=self.store.article_chunks,
            within=topic if topic and parsed.points_back else None,
        )  # fmt: skip
        offline = offline_answer(query, hits, extraction, self.store.article_chunks)
        if self.llm is None or not hits:
            yield offline
            return
        # 5. the generative answer, checked; any failure falls back to the offline answer
        try:
            yield from self._generate(question, query, hits, history, warnings)
        except LLMError as err:
            log.warning("LLM failed, falling back to the offline answer: %s", err)
            notice = (
                f"Het taalmodel gaf geen antwoord ({err}); dit is het antwoord uit de artikelen."
            )
            yield _with_warnings(offline, [*warnings, notice])

    def validate(self, question: str) -> str:
        question = (question or "").strip()
        if not question:
            raise InvalidQuestionError("Stel een vraag; het invoerveld is leeg.")
        if len(question) > self.settings.max_question_chars:
            raise InvalidQuestionError(
                f"Die vraag is te lang ({len(question)} tekens; maximaal "
                f"{self.settings.max_question_chars}). Stel een kortere vraag."
            )
        if not any(ch.isalnum() for ch in question):
            raise InvalidQuestionError("Die vraag bevat geen woorden. Probeer het opnieuw.")
        return question

    def rewrite(self, question: str, history: Sequence[str], warnings: list[str]) -> str:
        if not history:
            return question
        if self.llm is not None:
            from qa.answer.generative import rewrite_question

            try:
                return rewrite_question(self.llm, question, history)
            except Exception as err:  # noqa: BLE001 - fall back to the offline rewrite
                warnings.append(f"Herschrijven met het taalmodel mislukte: {err}")
        return rewrite_offline(question, history)

    def topic_article(self, question: Question, filters: Filters) -> str | None:
        """For a follow-up, the article that best answered the previous question (itself read
        as a follow-up: "Hoe oud is zij?" after "Wie won de Libris Literatuur Prijs?")."""
        if not question.follow_up:
            return None
        history = question.history
        previous = parse_question(history[-1], history[:-1]).query
        found = self.retriever.retrieve(previous, k=1, filters=filters)
        return found[0].article_id if found else None

    def _generate(
        self, question: str, query: str, hits: list[Hit], history: Sequence[str],
        warnings: list[str],
    ) -> Iterator[str | Answer]:  # fmt: skip
        from qa.answer.citations import check_citations
        from qa.answer.generative import build_messages, stream_answer

        assert self.llm is not None
        try:
            messages, used = build_messages(
                query, hits, context_tokens=self.settings.llm_context_tokens
            )
        except ValueError as err:  # the context window cannot hold even one source
            raise LLMError(str(err)) from err
        parts: list[str] = []
        # The client's time-out is per read; this bounds the whole answer too.
        deadline = time.monotonic() + 4 * self.settings.llm_timeout_s
        for delta in stream_answer(self.llm, messages):
            parts.append(delta)
            yield delta
            if time.monotonic() > deadline:
                raise LLMError("het antwoord duurde te lang")
        used_hits = hits[:used]
        check = check_citations("".join(parts), {n: h.text for n, h in enumerate(used_hits, 1)})
        refused = check.text.strip().startswith(REFUSAL) or not check.cited
        text, sources, cited = cite_passages(
            check.text.strip(), used_hits, check.cited, self.store.article_chunks
        )
        yield Answer(
            answer=text,
            refused=refused,
            query=query,
            sources=sources,
            cited=cited,
            warnings=(*warnings, *check.warnings),
            mode=self.settings.llm,
            searched=searched_titles(hits, sources),
            retrieved=tuple(dict.fromkeys(h.article_id for h in hits)),
        )

    def _encode_sentences(self, texts: list[str]) -> Any:
        encode = getattr(self.embeddings, "encode", None)
        if encode is not None:
            return encode(texts, query=False)
        return self.embeddings.embed_documents(texts)

    def _doc_freq(self, terms: Sequence[str]) -> tuple[dict[str, int], int]:
        return self.store.lexical.doc_freqs(terms), self.store.lexical.count()


def offline_answer(
    query: str,
    hits: Sequence[Hit],
    extraction: Extraction,
    read_article: ArticleReader | None = None,
) -> Answer:
    """Turn an extraction into an Answer. Each run of adjacent chosen sentences is followed by
    the number of its article ([1], [2]); the sources are those articles with the sentences
    highlighted. A refusal cites the sentence that comes nearest, so the reader sees what the
    articles do say."""
    retrieved = tuple(dict.fromkeys(h.article_id for h in hits))
    if not extraction.picks:
        searched = searched_titles(hits, ())
        return Answer(REFUSAL, True, query, (), (), (), "offline", retrieved, searched)
    runs = _runs(extraction.picks)
    sources, numbers = cite([Cited(p.hit, p.start, p.end) for p in extraction.picks], read_article)
    run_numbers, i = [], 0
    for run in runs:
        run_numbers.append(numbers[i])
        i += len(run)
    searched = searched_titles(hits, sources)
    if extraction.refused:
        nearest = " ".join(p.text for p in runs[0])
        text = f"{REFUSAL} Het dichtst erbij komt: “{nearest}” [1]"
        return Answer(text, True, query, sources[:1], (1,), (), "offline", retrieved, searched)
    text = " ".join(
        " ".join(p.text for p in run) + f" [{n}]" for n, run in zip(run_numbers, runs, strict=True)
    )
    cited = tuple(dict.fromkeys(run_numbers))
    return Answer(text, False, query, sources, cited, (), "offline", retrieved, searched)


def _runs(picks: Sequence[Pick]) -> list[list[Pick]]:
    """Group sentences that follow each other in one article: one citation marker each."""
    runs: list[list[Pick]] = []
    for pick in picks:
        last = runs[-1][-1] if runs else None
        if (
            last is not None
            and pick.hit.article_id == last.hit.article_id
            and 0 <= pick.start - last.end <= 2
        ):
            runs[-1].append(pick)
        else:
            runs.append([pick])
    return runs


def _with_warnings(answer: Answer, warnings: list[str]) -> Answer:
    from dataclasses import replace

    return replace(answer, warnings=(*answer.warnings, *warnings))


def build_pipeline(settings: Settings, *, hf_token: str | None = None) -> Pipeline:
    """Load the model, open the index and build the configured LLM and reranker."""
    from qa.index.embeddings import load_embeddings
    from qa.index.store import open_store, spec_for

    embeddings = load_embeddings(settings)
    store = open_store(settings, spec_for(settings, embeddings), for_writing=True)
    llm = None
    if settings.llm and settings.llm != "none":
        from qa.llm import make_chat_model

        llm = make_chat_model(settings, hf_token=hf_token)
    reranker = None
    if settings.reranker:
        from qa.index.retrieval import CrossEncoderReranker

        reranker = CrossEncoderReranker(settings.reranker)
    return Pipeline(settings, embeddings, store, llm=llm, reranker=reranker)
