"""The ``--ready-file`` a gateway writes once it serves: JSON, replaced atomically.

::

    {"pid": 4242, "url": "http://127.0.0.1:8080"}                      one process
    {"pid": 4242, "url": "http://127.0.0.1:8080", "workers": [4243, 4244]}  --workers 2
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["write_ready_file"]


def write_ready_file(path: Path, payload: dict[str, Any]) -> None:
    """Write JSON atomically: a reader sees the whole file or none of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".ready-", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(payload, handle)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
