"""The few domain errors Vraagbaak raises.

Each carries a Dutch, user-facing message (``str(err)``) so that the UI and the CLIs can show it
as it is; the CLIs turn them into one clear line and a non-zero exit, the UI into a chat message.
"""

from __future__ import annotations


class VraagbaakError(Exception):
    """Base class: anything a user can fix or should be told about."""


class ModelUnavailableError(VraagbaakError):
    """An embedding model, reranker or LLM could not be loaded."""


class IndexMismatchError(VraagbaakError):
    """The index was built with other settings (model, dimension, chunking, schema)."""


class IndexEmptyError(VraagbaakError):
    """The index holds no articles yet."""


class IndexUnavailableError(VraagbaakError):
    """The index cannot be opened (missing folder, unreachable Chroma server, corrupt data)."""


class InvalidQuestionError(VraagbaakError):
    """An empty, absurdly long or otherwise unusable question."""


class LLMError(VraagbaakError):
    """The configured LLM failed (unreachable, time-out, error, garbage)."""


class UnknownArticleError(VraagbaakError):
    """Articles asked for by id (to remove them) that the index does not hold."""

    def __init__(self, ids: list[str]) -> None:
        self.ids = list(ids)
        named = ", ".join(repr(i) for i in self.ids)
        noun = "Dit artikel staat" if len(self.ids) == 1 else "Deze artikelen staan"
        super().__init__(f"{noun} niet in de index: {named}. Er is niets verwijderd.")
