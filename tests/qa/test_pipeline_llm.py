"""The pipeline with an LLM: through a stand-in OpenAI-compatible server on 127.0.0.1 (the real
client code path), and with LangChain's fake chat model. Also the reranker seam."""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Sequence

from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from qa.llm import make_chat_model
from qa.pipeline import Pipeline
from qa.types import Answer
from tests.qa.openai_stub import OpenAIStub


def _with_llm(pipeline: Pipeline, llm) -> Pipeline:  # type: ignore[no-untyped-def]
    settings = dataclasses.replace(pipeline.settings, llm="openai:stub-model")
    return Pipeline(settings, pipeline.embeddings, pipeline.store, llm=llm, reader=pipeline.reader)


def _stub_llm(base_url: str, timeout: float = 5.0):  # type: ignore[no-untyped-def]
    from qa.settings import Settings

    return make_chat_model(
        Settings(llm="openai:stub-model", llm_base_url=base_url, llm_timeout_s=timeout)
    )


def test_passages_reach_the_prompt_and_a_bogus_citation_is_removed(sample_pipeline) -> None:  # type: ignore[no-untyped-def]
    reply = "Poetin gaf Kim een limousine, een theeservies en een dolk [1]. Ook een raket [9]."
    with OpenAIStub(reply) as stub:
        pipeline = _with_llm(sample_pipeline, _stub_llm(stub.base_url))
        events = list(pipeline.stream("Wat gaf Poetin aan Kim?"))
        prompt = stub.prompt_text()
    deltas = [e for e in events if isinstance(e, str)]
    answer = events[-1]
    assert isinstance(answer, Answer) and len(deltas) > 1  # it streamed
    assert "theeservies" in prompt and "<bron" in prompt  # the retrieved passage, fenced
    assert "[9]" not in answer.answer and "[1]" in answer.answer
    assert any("[9]" in w for w in answer.warnings)
    assert answer.cited == (1,) and answer.mode == "openai:stub-model"


def test_a_dead_server_still_yields_the_offline_answer_with_a_notice(sample_pipeline) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    pipeline = _with_llm(sample_pipeline, _stub_llm(f"http://127.0.0.1:{port}/v1"))
    started = time.monotonic()
    answer = pipeline.ask("Wat gaf Poetin aan Kim?")
    assert time.monotonic() - started < 10
    assert "limousine" in answer.answer and answer.mode == "offline"
    assert any("taalmodel" in w for w in answer.warnings)


def test_a_slow_server_times_out_into_the_offline_answer(sample_pipeline) -> None:  # type: ignore[no-untyped-def]
    with OpenAIStub("te laat [1]", delay_s=5) as stub:
        pipeline = _with_llm(sample_pipeline, _stub_llm(stub.base_url, timeout=1))
        answer = pipeline.ask("Wat gaf Poetin aan Kim?")
    assert "limousine" in answer.answer and answer.warnings


def test_garbage_from_the_llm_falls_back(sample_pipeline) -> None:  # type: ignore[no-untyped-def]
    llm = GenericFakeChatModel(messages=iter([AIMessage(content="!!! ### ...")]))
    answer = _with_llm(sample_pipeline, llm).ask("Wat gaf Poetin aan Kim?")
    assert "limousine" in answer.answer and answer.warnings


def test_the_llm_rewrites_follow_ups(sample_pipeline) -> None:  # type: ignore[no-untyped-def]
    llm = GenericFakeChatModel(
        messages=iter(
            [
                AIMessage(content="Wat gaf Kim Jong-un terug aan Poetin?"),
                AIMessage(content="Kim gaf kunst aan Poetin [1]."),
            ]
        )
    )
    answer = _with_llm(sample_pipeline, llm).ask(
        "En wat gaf Kim terug?", history=["Wat gaf Poetin aan Kim?"]
    )
    assert answer.query == "Wat gaf Kim Jong-un terug aan Poetin?"
    assert "kunst" in answer.answer


class FavouringReranker:
    """A stand-in cross-encoder that scores one given passage highest."""

    def __init__(self, favourite: str) -> None:
        self.favourite = favourite

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        return [1.0 if p.endswith(self.favourite) else 0.0 for p in passages]


def test_a_reranker_reorders_the_passages(sample_pipeline) -> None:  # type: ignore[no-untyped-def]
    plain = sample_pipeline.retriever.retrieve("Poetin Kim bezoek", k=4)
    reranked = Pipeline(
        sample_pipeline.settings, sample_pipeline.embeddings, sample_pipeline.store,
        reranker=FavouringReranker(plain[-1].text),
    ).retriever.retrieve("Poetin Kim bezoek", k=4)  # fmt: skip
    assert reranked[0].chunk_id == plain[-1].chunk_id != plain[0].chunk_id
