"""Vraagbaak's chat app, and a Hugging Face Space's entry point: ``python app.py``.

Settings come from ``VRAAGBAAK_*`` variables; gradio reads GRADIO_SERVER_NAME/PORT itself.
An empty index is first filled with the bundled sample articles (a Space's disk is not kept).
"""

import os

from qa.runtime import prepare_environment

prepare_environment()  # offline, no analytics: before gradio and the models are imported

from ingest.feeds import remove_articles  # noqa: E402
from ingest.pipeline import ingest_paths  # noqa: E402
from qa.app import build_demo, ensure_sample_index, launch_options  # noqa: E402
from qa.pipeline import build_pipeline  # noqa: E402
from qa.settings import Settings  # noqa: E402

settings = Settings.from_env()
pipeline = build_pipeline(settings, hf_token=os.environ.get("HF_TOKEN"))
ensure_sample_index(pipeline, ingest_paths)
demo = build_demo(
    pipeline,
    ingest_files=ingest_paths,
    settings=settings,
    # removing in the Artikelen tab also tells the feeds not to bring an article back
    remove_articles=lambda ids: remove_articles(ids, store=pipeline.store, settings=settings),
)

if __name__ == "__main__":
    demo.launch(**launch_options(settings))
