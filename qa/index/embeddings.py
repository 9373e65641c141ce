"""Embeddings: sentence-transformers behind LangChain's ``Embeddings`` interface.

``load_embeddings`` is the one factory. It resolves the configured model (the bundled e5-small,
a local folder, or a Hugging Face id), never hangs on an unreachable hub, and returns an
:class:`SentenceEmbeddings` that adds the model family's query/passage prefixes (e5 needs
``query: `` and ``passage: ``). Everything else takes an ``Embeddings`` as an argument, so tests
pass LangChain's ``DeterministicFakeEmbedding`` instead.

Three backends run the same model (``python -m qa bench`` measures them; docs/BENCHMARKS.md):

- ``torch``: sentence-transformers in float32;
- ``onnx``: the model exported once to ONNX (``torch.onnx``) and run by onnxruntime, float32;
- ``onnx-int8``: that export with its weights quantised to int8 (dynamic, per channel), the
  fastest; its vectors agree with float32 ones to a cosine of about 0.996, so an index built
  with one backend is queried with another without re-ingesting (the name stays the same).

The ONNX files are made on first use in the model cache (a minute, once); they need the ``onnx``
package. When the default backend cannot be prepared, the factory falls back to ``torch``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import tempfile
import threading
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from langchain_core.embeddings import Embeddings

from qa.errors import ModelUnavailableError
from qa.settings import BUNDLED_MODEL, Settings

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

BACKENDS = ("torch", "onnx", "onnx-int8")
DEFAULT_BACKEND = "onnx-int8"
"""The backend when settings name none (``python -m qa bench`` decides; see docs/BENCHMARKS.md)."""

QUERY_CACHE_SIZE = 256


def prefixes_for(model_name: str) -> tuple[str, str]:
    """(query prefix, passage prefix) that a model family was trained with."""
    name = model_name.lower()
    return ("query: ", "passage: ") if "e5" in name else ("", "")


class SentenceEmbeddings(Embeddings):
    """A sentence-transformers model with its prefixes, its name and its tokenizer.

    ``model`` is a ``SentenceTransformer`` or anything with the same ``encode``,
    ``get_embedding_dimension``, ``max_seq_length`` and ``tokenizer`` (:class:`OnnxSentenceModel`).
    Query vectors are kept in a small LRU cache: one question is embedded by retrieval and again
    by the answerer, and a chat asks the same question more than once.
    """

    def __init__(
        self, model: Any, *, name: str, query_prefix: str = "", passage_prefix: str = "",
        batch_size: int = 16, backend: str = "torch",
    ) -> None:  # fmt: skip
        if batch_size <= 0:
            raise ValueError(f"batch_size must be > 0, got {batch_size}")
        self.model = model
        self.name = name
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.batch_size = batch_size
        self.backend = backend
        self.dimension = int(model.get_embedding_dimension())
        self.max_tokens = int(getattr(model, "max_seq_length", 512) or 512)
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._queries_lock = threading.Lock()

    def encode(self, texts: list[str], *, query: bool) -> np.ndarray:
        """Normalised vectors as a float32 array, one row per text."""
        if query and len(texts) == 1:
            return self._encode_query(texts[0])[None, :].copy()
        return self._encode(texts, query=query)

    def _encode(self, texts: list[str], *, query: bool) -> np.ndarray:
        prefix = self.query_prefix if query else self.passage_prefix
        return self.model.encode(
            [prefix + t for t in texts],
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )

    def _encode_query(self, text: str) -> np.ndarray:
        with self._queries_lock:
            cached = self._queries.get(text)
            if cached is not None:
                self._queries.move_to_end(text)
                return cached
        vector = self._encode([text], query=True)[0]
        with self._queries_lock:
            self._queries[text] = vector
            while len(self._queries) > QUERY_CACHE_SIZE:
                self._queries.popitem(last=False)
        return vector

    def clear_cache(self) -> None:
        """Forget cached query vectors (the benchmark times every question from scratch)."""
        with self._queries_lock:
            self._queries.clear()

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


class _TokenizerShim:
    """The one call of a Hugging Face tokenizer that ``count_tokens`` makes, over ``tokenizers``."""

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer

    def __call__(self, texts: list[str], add_special_tokens: bool = True) -> dict[str, Any]:
        encoded = self._tokenizer.encode_batch(list(texts), add_special_tokens=add_special_tokens)
        return {"input_ids": [e.ids for e in encoded]}


class OnnxSentenceModel:
    """A sentence-transformers folder's model run by onnxruntime: tokenise, run, pool, normalise.

    It offers what :class:`SentenceEmbeddings` uses of a ``SentenceTransformer``; neither torch
    nor transformers is imported, which saves about a second of start-up and a few hundred MB.
    Texts are sorted by length before batching so that a batch pads little.
    """

    def __init__(
        self, onnx_path: Path, tokenizer_path: Path, *, dimension: int, pooling: str = "mean",
        max_seq_length: int = 512, threads: int = 0,
    ) -> None:  # fmt: skip
        import onnxruntime as ort
        from tokenizers import Tokenizer

        if pooling not in {"mean", "cls"}:
            raise ValueError(f"pooling must be 'mean' or 'cls', got {pooling!r}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(0, threads)
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle pool threads sleep instead of spinning: on 2 cores a spinning thread takes the CPU
        # from the Python work between runs and from other processes. Measured (docs/BENCHMARKS.md):
        # 12 sentences at load 2.5 took 127 ms instead of 211 ms; bulk throughput is unchanged.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(
            str(onnx_path), options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self.tokenizer = _TokenizerShim(self._tokenizer)
        self.pad_id = self._tokenizer.token_to_id("<pad>") or 0
        self.pooling = pooling
        self.max_seq_length = max_seq_length
        self._dimension = dimension
        self._inputs = {i.name for i in self.session.get_inputs()}

    def get_embedding_dimension(self) -> int:
        return self._dimension

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 16, normalize_embeddings: bool = True,
        convert_to_numpy: bool = True, show_progress_bar: bool = False,
    ) -> np.ndarray:  # fmt: skip
        """One float32 row per text, in the order given (the keyword arguments mirror
        sentence-transformers'; the result is always a numpy array)."""
        import numpy as np

        del convert_to_numpy, show_progress_bar  # always numpy, never a progress bar
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        if not texts:
            return out
        # 1. tokenise everything at once (sentence-transformers strips the texts too)
        encoded = self._tokenizer.encode_batch([t.strip() for t in texts])
        ids = [self._truncate(e.ids) for e in encoded]
        # 2. longest first, so that each batch holds texts of about one length
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            width = max(len(ids[i]) for i in rows)
            input_ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for n, i in enumerate(rows):
                input_ids[n, : len(ids[i])] = ids[i]
                mask[n, : len(ids[i])] = 1
            feeds = {"input_ids": input_ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feeds["token_type_ids"] = np.zeros_like(input_ids)
            hidden = self.session.run(None, feeds)[0]
            # 3. pool as the folder's Pooling module says
            if self.pooling == "cls":
                vectors = hidden[:, 0, :]
            else:
                weights = mask[:, :, None].astype(np.float32)
                vectors = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            out[rows] = vectors
        if normalize_embeddings:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

    def _truncate(self, ids: list[int]) -> list[int]:
        """Cut to ``max_seq_length`` tokens, keeping the closing special token (as HF does)."""
        if len(ids) <= self.max_seq_length:
            return ids
        return ids[: self.max_seq_length - 1] + ids[-1:]


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


def load_embeddings(
    settings: Settings, *, backend: str | None = None, threads: int | None = None
) -> SentenceEmbeddings:
    """Build the configured embedding model. Raises ModelUnavailableError with a clear reason.

    The backend and thread count are the arguments when given (the benchmark compares them),
    else ``settings.embedding_backend`` and ``settings.embedding_threads`` when those fields
    exist, else :data:`DEFAULT_BACKEND` and the library's own thread count (0).
    """
    spec = settings.embedding_model
    configured = backend or getattr(settings, "embedding_backend", None)
    backend = configured or DEFAULT_BACKEND
    if backend not in BACKENDS:
        raise ModelUnavailableError(
            f"Onbekende embedding-backend {backend!r}; kies uit: {', '.join(BACKENDS)}."
        )
    if threads is None:
        threads = int(getattr(settings, "embedding_threads", 0) or 0)
    if spec == BUNDLED_MODEL:
        from qa.index.bundled_model import BUNDLED_MODEL_ID, materialise_bundled_model

        folder: Path | None = materialise_bundled_model(settings.model_cache)
        name = BUNDLED_MODEL
        query_prefix, passage_prefix = prefixes_for(BUNDLED_MODEL_ID)
    elif Path(spec).expanduser().is_dir():
        folder = Path(spec).expanduser()
        name = spec
        query_prefix, passage_prefix = prefixes_for(spec)
    else:
        folder = None
        name = spec
        query_prefix, passage_prefix = prefixes_for(spec)

    model: Any = None
    if backend != "torch":
        try:
            if folder is None:
                raise ModelUnavailableError(
                    f"De backend {backend!r} werkt met het ingebouwde model of een lokale map, "
                    f"niet met een hub-id ({spec!r})."
                )
            model = onnx_model(
                folder, settings.model_cache, quantize=backend == "onnx-int8", threads=threads
            )
        except ModelUnavailableError as err:
            if configured:
                raise
            log.warning("embedding backend %s unavailable, using torch: %s", backend, err)
            backend = "torch"
    if model is None:
        _set_torch_threads(threads)
        if folder is not None:
            try:
                model = _sentence_transformer(str(folder), local_only=True)
            except Exception as err:  # noqa: BLE001 - transformers raises OSError, ValueError, ...
                raise ModelUnavailableError(
                    f"De map '{folder}' bevat geen bruikbaar sentence-transformers-model: {err}"
                ) from err
        else:
            model = _from_hub(spec)
    return SentenceEmbeddings(
        model, name=name, query_prefix=query_prefix, passage_prefix=passage_prefix,
        batch_size=settings.embed_batch_size, backend=backend,
    )  # fmt: skip


def _set_torch_threads(threads: int) -> None:
    if threads > 0:
        import torch

        torch.set_num_threads(threads)


# --- the ONNX backends ----------------------------------------------------------------------------


def onnx_model(
    folder: Path, cache_dir: Path, *, quantize: bool, threads: int = 0
) -> OnnxSentenceModel:
    """The sentence-transformers model in ``folder`` as an :class:`OnnxSentenceModel`.

    The ONNX file is exported (and, with ``quantize``, quantised) on first use into
    ``cache_dir/onnx/<folder name>-<hash>/``; later calls load it in about a second.
    """
    pooling, dimension, max_len = _pooling_of(folder)
    target = onnx_folder(folder, cache_dir)
    path = export_onnx(folder, target, quantize=quantize)
    try:
        return OnnxSentenceModel(
            path, folder / "tokenizer.json", dimension=dimension, pooling=pooling,
            max_seq_length=max_len, threads=threads,
        )  # fmt: skip
    except Exception as err:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise ModelUnavailableError(
            f"Het ONNX-model {path} kan niet geladen worden: {err}"
        ) from err


def onnx_folder(folder: Path, cache_dir: Path) -> Path:
    """Where the ONNX files of the model in ``folder`` are kept."""
    resolved = str(Path(folder).resolve())
    tag = hashlib.sha1(resolved.encode("utf-8")).hexdigest()[:10]
    return Path(cache_dir) / "onnx" / f"{Path(resolved).name}-{tag}"


def _pooling_of(folder: Path) -> tuple[str, int, int]:
    """(pooling, dimension, max tokens) of a sentence-transformers folder that ONNX can run."""
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        pooling_dir = next(m["path"] for m in modules if m["type"].endswith("Pooling"))
        config = json.loads((folder / pooling_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, KeyError, StopIteration, ValueError) as err:
        raise ModelUnavailableError(
            f"{folder} is geen sentence-transformers-map met een Pooling-module ({err})."
        ) from err
    if kinds[:2] != ["Transformer", "Pooling"] or set(kinds[2:]) - {"Normalize"}:
        raise ModelUnavailableError(
            f"De ONNX-backend kent alleen Transformer + Pooling (+ Normalize), niet {kinds}."
        )
    if not (folder / "tokenizer.json").is_file():
        raise ModelUnavailableError(f"{folder} heeft geen tokenizer.json voor de ONNX-backend.")
    if config.get("pooling_mode_mean_tokens"):
        pooling = "mean"
    elif config.get("pooling_mode_cls_token"):
        pooling = "cls"
    else:
        raise ModelUnavailableError("De ONNX-backend kent alleen mean- en CLS-pooling.")
    max_len = 512
    st_config = folder / "sentence_bert_config.json"
    if st_config.is_file():
        max_len = int(json.loads(st_config.read_text(encoding="utf-8")).get("max_seq_length", 512))
    return pooling, int(config["word_embedding_dimension"]), max_len


def export_onnx(folder: Path, target: Path, *, quantize: bool) -> Path:
    """``target/model.onnx`` (float32) or ``target/model-int8.onnx``, made when missing.

    1. export the transformer (input ids, attention mask -> last hidden state) with torch's
       TorchScript-based exporter, dynamic in batch and length;
    2. for int8, quantise every weight to int8 per output channel (onnxruntime's dynamic
       quantisation; activations are quantised on the fly).
    Each file is written under a temporary name and renamed, so a crash leaves no half file.
    """
    fp32 = target / "model.onnx"
    int8 = target / "model-int8.onnx"
    wanted = int8 if quantize else fp32
    if wanted.is_file():
        return wanted
    try:
        target.mkdir(parents=True, exist_ok=True)
        if not fp32.is_file():
            log.info("Exporting %s to ONNX in %s (once)", folder, target)
            _atomic(fp32, lambda tmp: _export_fp32(folder, tmp))
        if quantize:
            log.info("Quantising %s to int8 (once)", fp32)
            _atomic(int8, lambda tmp: _quantise(fp32, tmp))
    except ModelUnavailableError:
        raise
    except ImportError as err:
        raise ModelUnavailableError(
            f"De ONNX-backend heeft het pakket '{err.name}' nodig: pip install onnx onnxruntime"
        ) from err
    except Exception as err:  # noqa: BLE001 - torch.onnx and onnx raise many kinds
        raise ModelUnavailableError(f"Het model kon niet naar ONNX omgezet worden: {err}") from err
    return wanted


def _atomic(path: Path, write: Any) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _export_fp32(folder: Path, path: Path) -> None:
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    model = AutoModel.from_pretrained(str(folder), local_files_only=True, dtype=torch.float32)
    model.eval()

    class _Encoder(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    example = torch.ones((2, 8), dtype=torch.long)
    dynamic = {0: "batch", 1: "tokens"}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter warns about traced branches
        torch.onnx.export(
            _Encoder(model), (example, torch.ones_like(example)), str(path),
            input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": dynamic, "attention_mask": dynamic,
                          "last_hidden_state": dynamic},
            opset_version=17, dynamo=False,
        )  # fmt: skip


def _quantise(fp32: Path, path: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # it advises "pre-processing" through the root logger
    try:
        quantize_dynamic(str(fp32), str(path), weight_type=QuantType.QInt8, per_channel=True)
    finally:
        root.setLevel(level)


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
