"""The Hugging Face Space: README front matter and requirements.txt agree with the project."""

from __future__ import annotations

import tomllib

import yaml

from qa.settings import REPO_ROOT


def _front_matter() -> dict:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---", 2)[1])


def _pyproject() -> dict:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_front_matter_names_the_gradio_app_and_python() -> None:
    meta = _front_matter()
    assert meta["sdk"] == "gradio" and meta["app_file"] == "app.py"
    assert meta["python_version"] == "3.11"
    assert meta["title"] and meta["emoji"] and meta["short_description"]
    gradio_pin = next(d for d in _pyproject()["project"]["dependencies"] if d.startswith("gradio"))
    assert gradio_pin == f"gradio=={meta['sdk_version']}"


def test_requirements_list_exactly_the_runtime_dependencies() -> None:
    lines = (REPO_ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    requirements = [ln.strip() for ln in lines if ln.strip() and not ln.startswith(("#", "-"))]
    assert sorted(requirements) == sorted(_pyproject()["project"]["dependencies"])
    assert "torch==2.13.0" in requirements


def test_the_app_file_exists_and_reads_no_host_of_its_own() -> None:
    app = (REPO_ROOT / "app.py").read_text(encoding="utf-8")
    assert "demo.launch(" in app and "server_name=" not in app and "share=True" not in app


def test_the_space_installs_what_lightgbm_needs() -> None:
    # LightGBM's wheel links the system OpenMP runtime; a Space installs it from packages.txt.
    packages = (REPO_ROOT / "packages.txt").read_text(encoding="utf-8").split()
    assert "libgomp1" in packages
