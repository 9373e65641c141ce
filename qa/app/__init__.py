"""The chat app: a Gradio page in Dutch over a :class:`qa.pipeline.Pipeline`, one job per file.

- ``render``: small pure helpers (escaping, Dutch dates, safe links, status, error messages)
- ``conversation``: the conversation as data (``Turn``), and how the browser keeps it
- ``chat``: asking, streaming, follow-ups, the chat's messages; the ``/ask`` API's behaviour
- ``sources``: the sources panel, one entry per cited article, and "Ook doorzocht"
- ``filters``: the chat's source and date filters, checked
- ``export``: the conversation as Markdown ("Exporteer")
- ``feedback``: 👍/👎 with a comment into ``feedback.jsonl``; ``python -m qa feedback``
- ``articles``: the "Artikelen" tab: the table, searching it, removing articles
- ``uploads``: "Artikelen toevoegen", and the sample articles for an empty index
- ``layout``: ``build_demo``, the gradio page wiring all of the above (not launched)

What this package deliberately does not do: read, chunk or embed article files (``qa`` never
imports ``ingest``; the ingest function arrives as an argument), or decide what an answer says
(the pipeline does). gradio is imported only inside ``build_demo``.
"""

from qa.app.layout import build_demo, launch_options
from qa.app.uploads import ensure_sample_index

__all__ = ["build_demo", "ensure_sample_index", "launch_options"]
