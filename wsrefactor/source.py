"""Reading source files exactly as they are and writing them back without ever losing one.

A file is decoded with its own coding cookie or BOM and encoded back the same way, so untouched
bytes stay identical. Writes go to a temporary file in the same directory and are renamed over
the original only if the original still holds the bytes that were read.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import signal
import stat
import tempfile
import threading
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

TMP_SUFFIX = ".wsrefactor-tmp"
_BINARY_SNIFF = 8192


class SourceError(Exception):
    """A file that cannot be read or decoded; ``str()`` is the one-line reason."""

    def __init__(self, message: str, line: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


class ChangedOnDisk(Exception):
    """The file changed between reading and writing; it was not overwritten."""


@dataclass(frozen=True)
class SourceFile:
    path: str
    raw: bytes
    text: str
    encoding: str
    bom: bool

    def encode(self, text: str) -> bytes:
        """Encode new text the way the original was encoded (same codec, same BOM)."""
        data = text.encode(self.encoding)
        return (b"\xef\xbb\xbf" + data) if self.bom else data


def _os_reason(exc: OSError) -> str:
    if exc.errno == errno.ENOENT:
        return "file not found (deleted, or a dangling symlink)"
    if exc.errno == errno.ELOOP:
        return "symlink loop"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.EISDIR:
        return "is a directory, not a file"
    return exc.strerror or str(exc)


def read_bytes(path: str | Path) -> bytes:
    try:
        if os.path.isdir(path):
            raise SourceError("is a directory, not a file")
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise SourceError(f"cannot read: {_os_reason(exc)}") from None


def decode(path: str, raw: bytes) -> SourceFile:
    if b"\x00" in raw[:_BINARY_SNIFF]:
        raise SourceError("binary file (contains NUL bytes), not Python source")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
    except SyntaxError as exc:
        try:  # no usable cookie: say which byte is not UTF-8 rather than blame the declaration
            raw.decode("utf-8")
        except UnicodeDecodeError as bad:
            line = raw[: bad.start].count(b"\n") + 1
            raise SourceError(f"invalid utf-8 byte {raw[bad.start]:#04x}", line=line) from None
        raise SourceError(f"bad encoding declaration: {exc.msg}", line=exc.lineno or 1) from None
    bom = raw.startswith(b"\xef\xbb\xbf")
    body = raw[3:] if bom else raw
    if encoding == "utf-8-sig":
        encoding = "utf-8"
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError as exc:
        line = body[: exc.start].count(b"\n") + 1
        raise SourceError(f"invalid {encoding} byte {body[exc.start]:#04x}", line=line) from None
    except LookupError:
        raise SourceError(f"unknown encoding {encoding!r}") from None
    return SourceFile(path=path, raw=raw, text=text, encoding=encoding, bom=bom)


def read_source(path: str | Path) -> SourceFile:
    return decode(str(path), read_bytes(path))


_DEFERRED_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM") if hasattr(signal, n))


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM until the block is done, so an interrupt lands between two writes.

    Without this, Ctrl-C could arrive after the temporary file exists but before the code that
    removes it on failure runs, and leave a ``*.wsrefactor-tmp`` file behind. The signal is
    recorded and re-raised afterwards with the original handlers in place.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    previous = {}
    try:
        for sig in _DEFERRED_SIGNALS:
            previous[sig] = signal.signal(sig, lambda signum, frame: pending.append(signum))
        yield
    finally:
        for sig, handler in previous.items():
            if handler is not None:  # None: installed outside Python; cannot be restored
                signal.signal(sig, handler)
        if pending:
            signal.raise_signal(pending[0])


def is_read_only(st: os.stat_result, path: str) -> bool:
    """A file is read-only when nobody has a write bit on it, or when we may not write it.

    The mode counts even for root (whose ``os.access`` is always true): ``chmod a-w`` is how a
    user says "do not touch this file", and a fixer running as root in CI must honour it too.
    """
    return not (st.st_mode & 0o222) or not os.access(path, os.W_OK)


def write_atomic(path: str | Path, data: bytes, expected: bytes) -> None:
    """Replace ``path`` with ``data`` only if it still holds ``expected``; never half-written.

    Symlinks are followed so the link itself survives; the file mode (and, when permitted, the
    owner) is kept. SIGINT/SIGTERM are held during the write, so an interrupt never leaves a
    temporary file behind.
    """
    with _signals_deferred():
        _write_atomic(path, data, expected)


def _write_atomic(path: str | Path, data: bytes, expected: bytes) -> None:
    target = os.path.realpath(path)
    try:
        with open(target, "rb") as fh:
            current = fh.read()
    except OSError as exc:
        raise SourceError(f"cannot re-read before writing: {_os_reason(exc)}") from None
    if current != expected:
        raise ChangedOnDisk("changed on disk since it was read; not overwritten")
    directory = os.path.dirname(target) or "."
    try:
        st = os.stat(target)
        mode = stat.S_IMODE(st.st_mode)
        if is_read_only(st, target):
            raise SourceError("cannot write: permission denied (read-only file)")
        fd, tmp = tempfile.mkstemp(
            dir=directory, prefix="." + os.path.basename(target) + ".", suffix=TMP_SUFFIX
        )
    except OSError as exc:
        raise SourceError(f"cannot write: {_os_reason(exc)}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        _keep_owner(tmp, st)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise SourceError(f"cannot write: {_os_reason(exc)}") from None
        raise


def _keep_owner(tmp: str, st: os.stat_result) -> None:
    """Give the new file the old one's owner (only root may; otherwise it is already ours)."""
    if hasattr(os, "chown") and (os.stat(tmp).st_uid, os.stat(tmp).st_gid) != (st.st_uid, st.st_gid):
        try:
            os.chown(tmp, st.st_uid, st.st_gid)
        except PermissionError:
            pass


def write_new(path: str | Path, data: bytes) -> None:
    """Create a file that must not exist yet (generated modules, extracted scripts), atomically."""
    with _signals_deferred():
        _write_new(path, data)


def _write_new(path: str | Path, data: bytes) -> None:
    target = Path(path)
    if target.exists():
        raise ChangedOnDisk("already exists; not overwritten")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=str(target.parent), prefix="." + target.name + ".", suffix=TMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.link(tmp, target)  # fails if the target appeared meanwhile
    finally:
        os.unlink(tmp)
