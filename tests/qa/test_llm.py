"""make_chat_model builds the backend a spec names, offline, and refuses bad specs clearly."""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path

import pytest

from qa.errors import ModelUnavailableError
from qa.llm import describe_llm, make_chat_model
from qa.settings import Settings


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a connection or resolve a name fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network use while building a model: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize("spec", ["none", "", "  ", "None"])
def test_no_llm_means_offline(spec: str) -> None:
    assert make_chat_model(Settings(llm=spec)) is None
    assert describe_llm(spec) == "offline (uit de artikelen)"


def test_openai_spec_builds_chat_openai(no_network: None) -> None:
    from langchain_openai import ChatOpenAI

    settings = Settings(
        llm="openai:qwen2.5-7b-instruct",
        llm_base_url="http://127.0.0.1:8000/v1",
        llm_timeout_s=7,
    )
    llm = make_chat_model(settings)
    assert isinstance(llm, ChatOpenAI)
    assert llm.model_name == "qwen2.5-7b-instruct"
    assert llm.openai_api_base == "http://127.0.0.1:8000/v1"
    assert llm.request_timeout == 7
    assert llm.max_retries == 0
    assert llm.streaming is True
    # a local server needs no key, but the client must still start
    assert llm.openai_api_key is not None


def test_openai_spec_uses_the_given_key(no_network: None) -> None:
    llm = make_chat_model(Settings(llm="openai:gpt-4o-mini", llm_api_key="sk-test"))
    assert llm is not None
    assert llm.openai_api_key.get_secret_value() == "sk-test"  # type: ignore[attr-defined]
    assert describe_llm("openai:gpt-4o-mini") == "LLM: openai:gpt-4o-mini"


def test_ollama_spec_builds_chat_ollama(no_network: None) -> None:
    from langchain_ollama import ChatOllama

    llm = make_chat_model(Settings(llm="ollama:llama3.1:8b", llm_timeout_s=12))
    assert isinstance(llm, ChatOllama)
    assert llm.model == "llama3.1:8b"  # only the first colon separates the backend
    assert llm.base_url == "http://localhost:11434"
    assert llm.client_kwargs == {"timeout": 12}

    custom = make_chat_model(Settings(llm="ollama:mistral", llm_base_url="http://gpu:11434"))
    assert isinstance(custom, ChatOllama)
    assert custom.base_url == "http://gpu:11434"


def test_hf_spec_builds_chat_huggingface(no_network: None) -> None:
    from langchain_huggingface import ChatHuggingFace, HuggingFaceEndpoint

    llm = make_chat_model(
        Settings(llm="hf:Qwen/Qwen2.5-7B-Instruct", llm_timeout_s=2.5), hf_token="hf_dummy"
    )
    assert isinstance(llm, ChatHuggingFace)
    assert llm.model_id == "Qwen/Qwen2.5-7B-Instruct"
    assert isinstance(llm.llm, HuggingFaceEndpoint)
    assert llm.llm.repo_id == "Qwen/Qwen2.5-7B-Instruct"
    assert llm.llm.huggingfacehub_api_token == "hf_dummy"
    assert llm.llm.timeout == 3  # rounded up to the whole seconds the field takes


def test_llamacpp_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "geen-model.gguf"
    with pytest.raises(ModelUnavailableError, match="bestaat niet") as err:
        make_chat_model(Settings(llm=f"llamacpp:{missing}"))
    assert str(missing) in str(err.value)


@pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is not None
    and importlib.util.find_spec("langchain_community") is not None,
    reason="the llamacpp extra is installed",
)
def test_llamacpp_without_the_package_says_how_to_install(tmp_path: Path) -> None:
    model = tmp_path / "smollm2.gguf"
    model.write_bytes(b"GGUF")
    with pytest.raises(ModelUnavailableError, match=r"pip install 'vraagbaak\[llamacpp\]'"):
        make_chat_model(Settings(llm=f"llamacpp:{model}"))
    assert describe_llm(f"llamacpp:{model}") == "LLM: llamacpp:smollm2.gguf"


@pytest.mark.parametrize("spec", ["gpt-4o-mini", "anthropic:claude", "openai:", "ollama", ":x"])
def test_bad_spec_quotes_the_value_and_lists_valid_forms(spec: str) -> None:
    with pytest.raises(ValueError) as err:
        make_chat_model(Settings(llm=spec))
    message = str(err.value)
    assert repr(spec) in message
    assert "VRAAGBAAK_LLM" in message
    for form in ("none", "openai:<model>", "ollama:<model>", "hf:", "llamacpp:"):
        assert form in message
