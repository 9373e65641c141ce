"""Settings: one frozen dataclass, from VRAAGBAAK_* variables, overridden by flags."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from qa.settings import Settings, env_var


def test_environment_is_read_with_the_prefix_and_parsed() -> None:
    s = Settings.from_env(
        {"VRAAGBAAK_INDEX": "/tmp/x", "VRAAGBAAK_TOP_K": "9", "VRAAGBAAK_LLM_TIMEOUT": "2.5",
         "VRAAGBAAK_LLM": "ollama:qwen2.5", "OTHER": "ignored"}
    )  # fmt: skip
    assert (s.index_dir, s.top_k, s.llm_timeout_s, s.llm) == (
        Path("/tmp/x"),
        9,
        2.5,
        "ollama:qwen2.5",
    )


def test_flags_override_and_unset_flags_do_not() -> None:
    s = Settings.from_env({"VRAAGBAAK_TOP_K": "9"}).replace(top_k=None, llm="none")
    assert s.top_k == 9 and s.llm == "none"


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().top_k = 3  # type: ignore[misc]


def test_a_bad_number_names_the_variable_and_value() -> None:
    with pytest.raises(ValueError, match="VRAAGBAAK_TOP_K must be a number, got 'veel'"):
        Settings.from_env({"VRAAGBAAK_TOP_K": "veel"})


def test_every_field_has_a_variable() -> None:
    assert env_var("index_dir") == "VRAAGBAAK_INDEX"
    assert env_var("chroma_url") == "VRAAGBAAK_CHROMA_URL"
    assert env_var("max_upload_mb") == "VRAAGBAAK_MAX_UPLOAD_MB"
