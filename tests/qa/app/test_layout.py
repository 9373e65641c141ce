"""The built page: what it shows, its one public API endpoint, and the launch options."""

from __future__ import annotations

import socket

import pytest

from qa.app import build_demo, launch_options
from qa.app.layout import EXAMPLES
from qa.pipeline import Pipeline
from qa.settings import Settings


def test_launch_options() -> None:
    assert "auth" not in launch_options(Settings())
    options = launch_options(Settings(auth="redactie:geheim:met:dubbele punten"))
    assert options["auth"] == ("redactie", "geheim:met:dubbele punten")
    assert options["max_file_size"] == "20mb"
    with pytest.raises(ValueError, match="gebruiker:wachtwoord"):
        launch_options(Settings(auth="alleen-een-naam"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_built_demo_shows_dutch_and_documents_only_ask(sample_pipeline: Pipeline) -> None:
    from gradio_client import Client

    from ingest.pipeline import ingest_paths

    demo = build_demo(sample_pipeline, ingest_files=ingest_paths)
    assert demo.title == "Vraagbaak"
    config = str(demo.config)
    shown = [
        *("Gesprek", "Artikelen", "Verstuur", "Nieuw gesprek", "Exporteer", "Filters"),
        *("Bronnen", "Vanaf", "Tot en met", "Zoeken", "Verwijderen", "Ja, verwijderen"),
        *("Annuleren", "Artikelen toevoegen", "Opmerking versturen", *EXAMPLES),
        *("Stel een vraag over de artikelen…", "Antwoord uit de artikelen (offline)"),
    ]
    for text in shown:
        assert text in config, text
    without_upload = str(build_demo(sample_pipeline).config)
    assert "Artikelen toevoegen" not in without_upload and "Verwijderen" in without_upload
    port = _free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        endpoints = client.view_api(print_info=False, return_format="dict")
        assert list(endpoints["named_endpoints"]) == ["/ask"]
        assert endpoints["unnamed_endpoints"] == {}
        params = [p["parameter_name"] for p in endpoints["named_endpoints"]["/ask"]["parameters"]]
        assert params == ["question", "history", "sources", "date_from", "date_to"]
    finally:
        demo.close()
