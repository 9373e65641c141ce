"""The README's commands exist and work as written (on a private copy of the real sample index)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from qa.settings import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def _commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", README, re.S)
    lines = []
    for block in blocks:
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


def test_first_screen_gives_exactly_the_two_commands() -> None:
    body = README.split("---", 2)[2]  # after the Space front matter
    first_screen = "\n".join(body.strip().splitlines()[:15])
    block = re.search(r"```bash\n(.*?)```", first_screen, re.S)
    assert block, "the first screen has no command block"
    commands = [ln.split("#")[0].strip() for ln in block.group(1).splitlines() if ln.strip()]
    assert commands == ["make run", "make test"]


def test_every_make_target_in_the_readme_exists() -> None:
    targets = {m for c in _commands() for m in re.findall(r"\bmake (\w[\w-]*)", c)}
    assert {"run", "test", "bench"} <= targets
    for target in targets:
        dry = subprocess.run(["make", "-n", target], cwd=REPO_ROOT, capture_output=True, text=True)
        assert dry.returncode == 0, f"make {target}: {dry.stderr}"


def test_console_scripts_are_installed() -> None:
    bin_dir = Path(sys.executable).parent
    for script in ("vraagbaak-ingest", "vraagbaak"):
        done = subprocess.run([str(bin_dir / script), "--help"], capture_output=True, text=True)
        assert done.returncode == 0 and "usage" in done.stdout.lower()


def _example_site():  # type: ignore[no-untyped-def]
    """The README's example news site (https://nieuws.example), served on 127.0.0.1."""
    from tests.ingest.newsite import MARKT, Item, NewsSite, article_html

    site = NewsSite()
    site.__enter__()
    site.page(
        "/artikel/markt.html", article_html(MARKT, title="Weekmarkt verhuist", date="2025-02-14")
    )
    site.feed(
        "/feed.xml",
        [Item("m1", "/artikel/markt.html", "Weekmarkt", "Fri, 14 Feb 2025 09:00:00 +0100")],
    )
    return site


@pytest.mark.integration
@pytest.mark.slow
def test_python_commands_in_the_readme_run_as_written(real_index_copy: Path) -> None:
    python_commands = [c for c in _commands() if c.startswith("python -m ")]
    assert len(python_commands) >= 7
    site = _example_site()
    try:
        _run_all(python_commands, real_index_copy, site.base_url)
    finally:
        site.__exit__(None, None, None)


def _run_all(python_commands: list[str], index: Path, site_url: str) -> None:
    for command in python_commands:
        command = command.replace("https://nieuws.example", site_url)
        argv = shlex.split(command)
        if argv[2] == "qa" and argv[3] == "bench":
            argv.append("--help")  # the benchmark itself is measured, not run in the suite
        argv = [sys.executable if a == "python" else a for a in argv]
        argv = [str(index) if a == "index" else a for a in argv]
        done = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{command}\n{done.stderr[-2000:]}"
        if "ask" in argv and "Poetin aan Kim" in command and "--history" not in command:
            assert "limousine" in done.stdout
        if "--history" in argv:
            assert "kunst" in done.stdout
