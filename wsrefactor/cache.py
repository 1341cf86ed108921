"""A per-file result cache keyed by path + content hash + run key (config, selection, tool and rule versions).

Only ``check`` results are cached (never fixes). Entries are pickles written atomically; a corrupt
or unreadable entry is a miss, never an error. The directory carries its own ``.gitignore``.
"""

from __future__ import annotations

import hashlib
import os
import pickle  # nosec B403 - only our own cache entries, written by this tool, are loaded
import shutil
import tempfile
from pathlib import Path
from typing import Any

from wsrefactor import __version__

FORMAT = 1


def run_key(*parts: Any) -> str:
    """Hash of everything that changes results besides the file itself."""
    import wsrefactor
    import wsrefactor.rules

    stamps = []
    for package in (wsrefactor, wsrefactor.rules):
        for folder in package.__path__:
            for entry in sorted(os.scandir(folder), key=lambda e: e.name):
                if entry.name.endswith(".py") or entry.name.endswith(".jinja2"):
                    st = entry.stat()
                    stamps.append(f"{entry.path}:{st.st_size}:{st.st_mtime_ns}")
    text = repr((FORMAT, __version__, stamps, parts))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


class Cache:
    def __init__(self, directory: str | Path, key: str) -> None:
        self.root = Path(directory)
        self.dir = self.root / f"v{FORMAT}" / key

    def _entry(self, path: str, raw: bytes) -> Path:
        digest = hashlib.sha256(path.encode() + b"\0" + raw).hexdigest()
        return self.dir / digest[:2] / digest[2:]

    def get(self, path: str, raw: bytes) -> Any | None:
        try:
            with open(self._entry(path, raw), "rb") as fh:
                return pickle.load(fh)  # nosec B301 - our own cache directory, written by us
        except Exception:  # noqa: BLE001 - any unreadable entry is a miss
            return None

    def put(self, path: str, raw: bytes, value: Any) -> None:
        entry = self._entry(path, raw)
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            ignore = self.root / ".gitignore"
            if not ignore.exists():
                ignore.write_text("# created by wsrefactor\n*\n")
            fd, tmp = tempfile.mkstemp(dir=str(entry.parent), suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, entry)
        except OSError:
            pass  # a read-only tree simply runs uncached


def clean(directory: str | Path) -> bool:
    path = Path(directory)
    if not path.exists():
        return False
    shutil.rmtree(path)
    return True
