"""All of Vraagbaak's settings, in one frozen dataclass.

Settings are read at the edges only: from the environment (prefix ``VRAAGBAAK_``) by
:meth:`Settings.from_env`, and from CLI flags by the CLIs, which call :meth:`Settings.replace`.
Everything deeper receives a ``Settings`` (or just the values it needs) as an argument and never
reads ``os.environ`` itself.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_MODEL = "bundled:multilingual-e5-small"
PREFIX = "VRAAGBAAK_"


def _default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vraagbaak"


@dataclass(frozen=True)
class Settings:
    # Where the index lives: a folder (embedded Chroma + lexical index), or a Chroma server.
    index_dir: Path = REPO_ROOT / "index"
    chroma_url: str | None = None
    collection: str = "vraagbaak"

    # Embedding model: the bundled e5-small, a Hugging Face model id, or a local folder.
    embedding_model: str = BUNDLED_MODEL
    model_cache: Path = field(default_factory=_default_cache)
    embed_batch_size: int = 16
    embedding_backend: str | None = None  # torch, onnx or onnx-int8 (default: onnx-int8)
    embedding_threads: int = 0  # 0: the library's default

    # Chunking, measured in the embedding model's own tokens.
    chunk_tokens: int = 160
    chunk_overlap_sentences: int = 1

    # Ingest limits.
    max_file_mb: float = 20.0

    # Retrieval.
    top_k: int = 8
    candidates: int = 30
    per_article: int = 4
    reranker: str | None = None

    # Answering. llm is "none" (the offline answerer) or a spec like "openai:gpt-4o-mini".
    llm: str = "none"
    llm_base_url: str | None = None
    llm_api_key: str | None = None
    llm_timeout_s: float = 30.0
    llm_context_tokens: int = 4096
    max_question_chars: int = 2000

    # The app.
    sample_dir: Path = REPO_ROOT / "data" / "articles"
    max_upload_files: int = 20
    max_upload_mb: float = 20.0
    auth: str | None = None  # "user:password" turns on gradio's login page
    refresh_s: float = 2.0  # how often the app looks for articles ingested by other processes

    def replace(self, **changes: object) -> Settings:
        """A copy with some fields changed; ``None`` values (unset CLI flags) are ignored."""
        kept: dict[str, Any] = {k: v for k, v in changes.items() if v is not None}
        return dataclasses.replace(self, **kept)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``VRAAGBAAK_*`` variables; unknown or malformed values raise."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for f in dataclasses.fields(cls):
            raw = env.get(PREFIX + _env_name(f.name))
            if raw is None or raw == "":
                continue
            values[f.name] = _parse(f.name, raw, f.type)
        return cls(**values)  # type: ignore[arg-type]

    @property
    def server_mode(self) -> bool:
        return bool(self.chroma_url)


_ENV_NAMES = {"index_dir": "INDEX", "chroma_url": "CHROMA_URL", "llm_timeout_s": "LLM_TIMEOUT"}


def _env_name(field_name: str) -> str:
    return _ENV_NAMES.get(field_name, field_name.upper())


def env_var(field_name: str) -> str:
    """The environment variable that sets a field, e.g. ``env_var("index_dir")``."""
    return PREFIX + _env_name(field_name)


def _parse(name: str, raw: str, type_: object) -> object:
    text = str(type_)
    try:
        if "Path" in text:
            return Path(raw).expanduser()
        if text.startswith("int"):
            return int(raw)
        if text.startswith("float"):
            return float(raw)
    except ValueError:
        raise ValueError(f"{env_var(name)} must be a number, got {raw!r}") from None
    return raw
