"""Importing a library without the optional backends it would load at import time and never use here.

Some libraries import every optional backend they know as soon as they are imported, each guarded by
``ImportError``: keybert imports sentence-transformers, transformers and torch for its embedding and LLM
backends; spaCy's thinc imports torch (and counts the CUDA devices). This project hands KeyBERT stored
vectors, and runs spaCy pipelines that have no PyTorch layer, so a Spark Python worker would pay those
imports (torch and transformers: ~4-7 s per worker on 2 cores) for nothing; a worker of a lake embedded by
OpenVINO or ONNX never needs torch at all. :func:`import_without` imports such a library with the unused
packages reported missing, unless this process has imported them already; afterwards they import as usual.

Example::

    keybert = import_without("keybert", {"torch", "transformers", "sentence_transformers"})
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys
import threading
from collections.abc import Iterable
from types import ModuleType

# the finder is process-wide while it is installed: one import at a time
_LOCK = threading.Lock()


class _ReportedMissing(importlib.abc.MetaPathFinder):
    """While installed, importing one of ``names`` (or a submodule of one) fails as if it were not installed."""

    def __init__(self, names: frozenset[str]):
        self.names = names

    def find_spec(self, fullname, path=None, target=None):
        if fullname.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


def import_without(module: str, unused: Iterable[str]) -> ModuleType:
    """``module``, imported (when it is not yet) while the top-level packages ``unused`` that this process
    has not imported import as if not installed. Only for libraries that guard those imports with
    ``ImportError`` and work without them, as their own installs without the extras do.

    >>> import_without("json", {"decimal"}).__name__
    'json'
    """
    if module in sys.modules:
        return sys.modules[module]
    with _LOCK:
        missing = _ReportedMissing(frozenset(n for n in unused if n not in sys.modules))
        sys.meta_path.insert(0, missing)
        try:
            return importlib.import_module(module)
        finally:
            sys.meta_path.remove(missing)
