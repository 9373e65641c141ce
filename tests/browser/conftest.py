"""Browser fixtures: the real ``app.py`` in a subprocess over a copy of the real sample index,
and Debian's Chromium driven by Playwright (never ``playwright install``: it downloads).

The app is started once per module (loading the model takes a while); each test gets a fresh
browser context, so every test starts with an empty conversation (the browser keeps it per
context). Screenshots go to ``test-artifacts/``; with ``VRAAGBAAK_SCREENSHOTS=1`` they also
replace the README's ``docs/screenshot-*.png``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from qa.settings import REPO_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
START_TIMEOUT_S = 240  # the model loads in ~15 s on an idle machine; CI machines are not idle


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"app.py stopped (exit {proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - 127.0.0.1
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(
        f"app.py did not answer on {url} in {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}"
    )


@dataclass(frozen=True)
class ServedApp:
    url: str
    index: Path  # the app's index folder (feedback.jsonl and uploads/ are in it)


@pytest.fixture(scope="module")
def served_app(
    real_sample_index: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServedApp]:
    """``python app.py`` on a free port of 127.0.0.1, over a private copy of the sample index."""
    folder = tmp_path_factory.mktemp("browser-app")
    index = folder / "index"
    shutil.copytree(real_sample_index, index)
    port = _free_port()
    env = {
        **os.environ,
        "VRAAGBAAK_INDEX": str(index),
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_TEMP_DIR": str(folder / "gradio"),
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("VRAAGBAAK_AUTH", None)
    log = folder / "app.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "app.py"], cwd=REPO_ROOT, env=env, stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_until_up(url, proc, log)
        yield ServedApp(url, index)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def app_url(served_app: ServedApp) -> str:
    return served_app.url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Chromium is missing: run 'make setup' (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, app_url: str) -> Iterator[Any]:
    """A fresh page on the app, in Dutch, with the chat ready (an empty conversation)."""
    context = browser.new_context(
        viewport={"width": 1400, "height": 1000}, locale="nl-NL", accept_downloads=True
    )
    context.set_default_timeout(60_000)
    pg = context.new_page()
    pg.goto(app_url, wait_until="domcontentloaded")
    wait_until_loaded(pg)
    yield pg
    context.close()


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as test-artifacts/<name>; with VRAAGBAAK_SCREENSHOTS=1 also
    as docs/<name> (the README's pictures)."""
    shot = REPO_ROOT / "test-artifacts" / name
    shot.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    if os.environ.get("VRAAGBAAK_SCREENSHOTS") == "1":
        (REPO_ROOT / "docs").mkdir(exist_ok=True)
        shutil.copyfile(shot, REPO_ROOT / "docs" / name)
    return shot


SEARCHING = "Ik zoek in de artikelen"


def wait_until_loaded(page: Any) -> None:
    """Until the page has its kept conversation and the article list (``LOADED_JS``)."""
    page.get_by_test_id("textbox").first.wait_for()
    page.wait_for_function("document.body.dataset.vraagbaak === 'klaar'")


def ask(page: Any, question: str) -> Any:
    """Type a question, press Enter, and wait for the whole answer; returns its chat bubble."""
    before = page.get_by_test_id("bot").count()
    box = page.get_by_test_id("textbox").first
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(
        """([n, searching]) => {
            const bots = document.querySelectorAll('[data-testid=bot]');
            return bots.length > n && !bots[bots.length - 1].innerText.includes(searching);
        }""",
        arg=[before, SEARCHING],
    )
    return page.get_by_test_id("bot").last


def open_tab(page: Any, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def upload(page: Any, path: Path) -> str:
    """Add one article file on the Artikelen tab; returns the report's text."""
    open_tab(page, "Artikelen")
    page.locator("#bestanden input[type=file]").set_input_files(str(path))
    page.locator("#bestanden").get_by_text(path.name).first.wait_for()  # uploaded to the server
    page.get_by_role("button", name="Toevoegen", exact=True).click()
    report = page.locator(".vb-notice", has_text="toegevoegd").last
    report.wait_for()
    text = str(report.inner_text())
    open_tab(page, "Gesprek")
    return text
