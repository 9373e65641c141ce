"""Embeddings: sentence-transformers behind LangChain's ``Embeddings`` interface.

``load_embeddings`` is the one factory. It resolves the configured model (the bundled e5-small,
a local folder, or a Hugging Face id), never hangs on an unreachable hub, and returns an
:class:`SentenceEmbeddings` that adds the model family's query/passage prefixes (e5 needs
``query: `` and ``passage: ``). Everything else takes an ``Embeddings`` as an argument, so tests
pass LangChain's ``DeterministicFakeEmbedding`` instead.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from langchain_core.embeddings import Embeddings

from qa.errors import ModelUnavailableError
from qa.settings import BUNDLED_MODEL, Settings

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)


def prefixes_for(model_name: str) -> tuple[str, str]:
    """(query prefix, passage prefix) that a model family was trained with."""
    name = model_name.lower()
    return ("query: ", "passage: ") if "e5" in name else ("", "")


class SentenceEmbeddings(Embeddings):
    """A sentence-transformers model with its prefixes, its name and its tokenizer."""

    def __init__(
        self, model: Any, *, name: str, query_prefix: str = "", passage_prefix: str = "",
        batch_size: int = 16,
    ) -> None:  # fmt: skip
        self.model = model
        self.name = name
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.batch_size = batch_size
        self.dimension = int(model.get_embedding_dimension())
        self.max_tokens = int(getattr(model, "max_seq_length", 512) or 512)

    def encode(self, texts: list[str], *, query: bool) -> np.ndarray:
        """Normalised vectors as a float32 array, one row per text."""
        prefix = self.query_prefix if query else self.passage_prefix
        return self.model.encode(
            [prefix + t for t in texts],
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts, query=False).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text], query=True)[0].tolist()

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Token counts without special tokens, as the model's own tokenizer sees them."""
        if not texts:
            return []
        encoded = self.model.tokenizer(texts, add_special_tokens=False)["input_ids"]
        return [len(ids) for ids in encoded]


def describe(embeddings: Embeddings) -> tuple[str, int]:
    """(model name, dimension) of any Embeddings, for the index's model guard."""
    name = getattr(embeddings, "name", None) or type(embeddings).__name__
    dim = getattr(embeddings, "dimension", None) or getattr(embeddings, "size", None)
    if not dim:
        dim = len(embeddings.embed_query("dimensie"))
    return str(name), int(dim)


def count_tokens_fn(embeddings: Embeddings) -> Any:
    """The model's token counter, or a words-based estimate for models without a tokenizer."""
    counter = getattr(embeddings, "count_tokens", None)
    if counter is not None:
        return counter
    return lambda texts: [int(len(t.split()) * 1.4) + 1 for t in texts]


def load_embeddings(settings: Settings) -> SentenceEmbeddings:
    """Build the configured embedding model. Raises ModelUnavailableError with a clear reason."""
    spec = settings.embedding_model
    if spec == BUNDLED_MODEL:
        from qa.bundled_model import BUNDLED_MODEL_ID, materialise_bundled_model

        folder = materialise_bundled_model(settings.model_cache)
        model = _sentence_transformer(str(folder), local_only=True)
        name = BUNDLED_MODEL
        query_prefix, passage_prefix = prefixes_for(BUNDLED_MODEL_ID)
    elif Path(spec).expanduser().is_dir():
        model = _sentence_transformer(str(Path(spec).expanduser()), local_only=True)
        name = spec
        query_prefix, passage_prefix = prefixes_for(spec)
    else:
        model = _from_hub(spec)
        name = spec
        query_prefix, passage_prefix = prefixes_for(spec)
    return SentenceEmbeddings(
        model, name=name, query_prefix=query_prefix, passage_prefix=passage_prefix,
        batch_size=settings.embed_batch_size,
    )  # fmt: skip


def _sentence_transformer(name_or_path: str, *, local_only: bool) -> Any:
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # no "Loading weights" bar on every start

    return SentenceTransformer(name_or_path, device="cpu", local_files_only=local_only)


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in {"1", "true", "yes", "on"}


def _from_hub(model_id: str) -> Any:
    """A hub model: from the local cache when there, else downloaded when the hub is reachable."""
    try:
        return _sentence_transformer(model_id, local_only=True)
    except Exception as err:  # noqa: BLE001 - transformers raises OSError, ValueError, ...
        cached_error = err
    if hub_offline():
        raise ModelUnavailableError(
            f"Het model '{model_id}' staat niet in de lokale cache en downloaden staat uit "
            "(HF_HUB_OFFLINE=1). Zet HF_HUB_OFFLINE=0 om het te downloaden, of kies een lokale map "
            f"of het ingebouwde model. ({type(cached_error).__name__})"
        )
    if not _hub_reachable():
        raise ModelUnavailableError(
            f"Het model '{model_id}' staat niet in de cache en de Hugging Face hub is niet "
            "bereikbaar. Gebruik het ingebouwde model of een lokale map."
        )
    log.info("Downloading %s from the Hugging Face hub", model_id)
    try:
        return _sentence_transformer(model_id, local_only=False)
    except Exception as err:  # noqa: BLE001
        raise ModelUnavailableError(
            f"Het model '{model_id}' kon niet geladen worden: {err}"
        ) from err


def _hub_reachable(timeout_s: float = 3.0) -> bool:
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    parsed = urlparse(endpoint)
    host = parsed.hostname or "huggingface.co"
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False
