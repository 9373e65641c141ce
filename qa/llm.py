"""Build the chat model named by ``Settings.llm``, or none for the offline answerer.

``settings.llm`` is a spec ``<backend>:<model>``:

==========================  ==================================================================
``none`` (or empty)         no LLM: the offline answerer quotes the articles
``openai:<model>``          any OpenAI-compatible server: OpenAI, vLLM, llama.cpp's server,
                            LM Studio, Ollama's ``/v1``, Hugging Face TGI
                            (``llm_base_url`` picks the server, ``llm_api_key`` the key)
``ollama:<model>``          Ollama's own API (``llm_base_url`` defaults to localhost:11434)
``hf:<repo>``               the Hugging Face Inference API; the token comes from ``hf_token``
                            (the edges fill it from ``HF_TOKEN``) or else ``llm_api_key``
``llamacpp:<file.gguf>``    a local GGUF file through llama-cpp-python, an optional extra:
                            ``pip install 'vraagbaak[llamacpp]'``
==========================  ==================================================================

Provider packages are imported only when their backend is chosen, and building a model never
contacts the network: an unreachable server shows up on the first call, as ``LLMError`` from
:mod:`qa.answer.generative`. This module does not call models, build prompts or read ``os.environ``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from qa.answer.generative import ANSWER_TOKENS
from qa.errors import ModelUnavailableError
from qa.settings import Settings, env_var

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

OLLAMA_DEFAULT_URL = "http://localhost:11434"
# Local models answer from the sources best when they sample conservatively. OpenAI-compatible
# servers keep their own default: some OpenAI models reject any temperature but 1.
LOCAL_TEMPERATURE = 0.2

VALID_FORMS = (
    "none",
    "openai:<model>",
    "ollama:<model>",
    "hf:<organisation/model>",
    "llamacpp:<path/to/model.gguf>",
)
_OFFLINE = {"", "none", "offline"}


def parse_spec(spec: str) -> tuple[str, str] | None:
    """``"openai:gpt-4o-mini"`` -> ``("openai", "gpt-4o-mini")``; ``"none"`` -> ``None``."""
    text = (spec or "").strip()
    if text.lower() in _OFFLINE:
        return None
    backend, sep, model = text.partition(":")
    backend = backend.strip().lower()
    model = model.strip()
    if not sep or backend not in {"openai", "ollama", "hf", "llamacpp"} or not model:
        raise ValueError(f"{env_var('llm')} must be one of {', '.join(VALID_FORMS)}; got {spec!r}")
    return backend, model


def describe_llm(spec: str) -> str:
    """A short label for the UI and the CLIs: ``"LLM: openai:gpt-4o-mini"``."""
    try:
        parsed = parse_spec(spec)
    except ValueError:
        return f"LLM: {spec} (ongeldig)"
    if parsed is None:
        return "offline (uit de artikelen)"
    backend, model = parsed
    if backend == "llamacpp":
        model = Path(model).name
    return f"LLM: {backend}:{model}"


def make_chat_model(settings: Settings, *, hf_token: str | None = None) -> BaseChatModel | None:
    """The chat model for ``settings.llm``, or ``None`` when answering offline.

    Raises ``ValueError`` for a malformed spec and ``ModelUnavailableError`` (Dutch message) when
    the backend cannot be built here, e.g. llama-cpp-python is not installed.
    """
    parsed = parse_spec(settings.llm)
    if parsed is None:
        return None
    backend, model = parsed
    if backend == "openai":
        return _openai(model, settings)
    if backend == "ollama":
        return _ollama(model, settings)
    if backend == "hf":
        return _huggingface(model, settings, hf_token or settings.llm_api_key)
    return _llamacpp(model, settings)


def _openai(model: str, settings: Settings) -> BaseChatModel:
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    return ChatOpenAI(
        model=model,
        base_url=settings.llm_base_url,
        # Local servers want no key, but the OpenAI client refuses to start without one.
        api_key=SecretStr(settings.llm_api_key or "not-needed"),
        timeout=settings.llm_timeout_s,
        max_retries=0,  # a retry doubles the wait for a dead server; the user can ask again
        streaming=True,
        # OpenAI-compatible servers implement /chat/completions, not OpenAI's Responses API.
        use_responses_api=False if settings.llm_base_url else None,
    )


def _ollama(model: str, settings: Settings) -> BaseChatModel:
    from langchain_ollama import ChatOllama

    return ChatOllama(
        model=model,
        base_url=settings.llm_base_url or OLLAMA_DEFAULT_URL,
        client_kwargs={"timeout": settings.llm_timeout_s},  # passed on to httpx
        temperature=LOCAL_TEMPERATURE,
        num_predict=ANSWER_TOKENS,
        num_ctx=settings.llm_context_tokens,
    )


def _huggingface(repo: str, settings: Settings, token: str | None) -> BaseChatModel:
    from langchain_huggingface import ChatHuggingFace, HuggingFaceEndpoint

    # ``model`` is filled in from ``repo_id`` by the class's own validator.
    endpoint = HuggingFaceEndpoint(  # type: ignore[call-arg]
        repo_id=repo,
        huggingfacehub_api_token=token,
        timeout=max(1, math.ceil(settings.llm_timeout_s)),  # the field is an int
        max_new_tokens=ANSWER_TOKENS,
        temperature=LOCAL_TEMPERATURE,
        streaming=True,
    )
    # With a repo_id, ChatHuggingFace takes the model id from it and asks the hub nothing.
    return ChatHuggingFace(llm=endpoint)


def _llamacpp(path: str, settings: Settings) -> BaseChatModel:
    model_file = Path(path).expanduser()
    if not model_file.is_file():
        raise ModelUnavailableError(f"Het modelbestand voor llama.cpp bestaat niet: {model_file}")
    try:
        from langchain_community.chat_models import ChatLlamaCpp
    except ImportError as exc:
        raise ModelUnavailableError(
            "llama.cpp is niet geïnstalleerd; installeer met pip install 'vraagbaak[llamacpp]' "
            f"({exc})"
        ) from exc
    try:
        model: BaseChatModel = ChatLlamaCpp(
            model_path=str(model_file),
            n_ctx=settings.llm_context_tokens,
            max_tokens=ANSWER_TOKENS,
            temperature=LOCAL_TEMPERATURE,
            streaming=True,
            verbose=False,
        )
    except ImportError as exc:  # langchain-community present, llama-cpp-python missing
        raise ModelUnavailableError(
            "llama-cpp-python is niet geïnstalleerd; installeer met "
            f"pip install 'vraagbaak[llamacpp]' ({exc})"
        ) from exc
    except Exception as exc:  # a corrupt or unsupported GGUF file
        raise ModelUnavailableError(
            f"Het llama.cpp-model {model_file} kan niet worden geladen: {exc}"
        ) from exc
    return model
