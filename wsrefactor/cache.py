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


# What a rule pack is made of: code, and the templates its fixes render (``templates/*.jinja2``).
_SOURCE_SUFFIXES = (".py", ".jinja2")


def _package_folders() -> list[str]:
    import wsrefactor
    import wsrefactor.rules

    return [folder for package in (wsrefactor, wsrefactor.rules) for folder in package.__path__]


def _stamps(folders: list[str]) -> list[str]:
    """Size and mtime of every source and template file below ``folders``, subfolders included
    (the templates live in ``templates/``: a top-level scan missed them, so an edited template
    kept serving the old edits from a warm cache)."""
    stamps = []
    for folder in folders:
        for current, dirs, names in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
            for name in sorted(names):
                if name.endswith(_SOURCE_SUFFIXES):
                    path = os.path.join(current, name)
                    try:
                        st = os.stat(path)
                    except OSError:
                        continue
                    stamps.append(f"{path}:{st.st_size}:{st.st_mtime_ns}")
    return stamps


def run_key(*parts: Any) -> str:
    """Hash of everything that changes results besides the file itself."""
    text = repr((FORMAT, __version__, _stamps(_package_folders()), parts))
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
