"""Process-wide environment defaults, applied at the edges (app.py and the CLIs) before any heavy
import: offline by default, no analytics, no telemetry. Set a variable yourself to override."""

from __future__ import annotations

import os

DEFAULTS = {
    "HF_HUB_OFFLINE": "1",  # nothing is downloaded from a model hub unless you set this to 0
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
    "LANGSMITH_TRACING": "false",
}


def prepare_environment() -> None:
    for key, value in DEFAULTS.items():
        os.environ.setdefault(key, value)
