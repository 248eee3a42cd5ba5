"""The files the hub writes: in a temp folder of this user's own, written whole or not at all, and kept
bounded by count and by age."""

from __future__ import annotations

import errno
import getpass
import logging
import os
import tempfile
import threading
import time
from pathlib import Path

log = logging.getLogger("glassbox.files")

_private: Path | None = None
_private_lock = threading.Lock()


def private_temp() -> Path:
    """A folder under the system temp dir that only this user owns (`glassbox-<uid>`, mode 0700).

    On a shared lab server the system temp dir is shared: Gradio's default `/tmp/gradio` belongs to whoever
    ran a Gradio app there first, and every other user's hub then failed to build its pages (PermissionError).
    When `glassbox-<uid>` exists but is not ours (or not writable), a fresh private folder is made instead.
    """
    global _private
    with _private_lock:
        if _private is None:
            uid = os.getuid() if hasattr(os, "getuid") else getpass.getuser()
            path = Path(tempfile.gettempdir()) / f"glassbox-{uid}"
            try:
                path.mkdir(mode=0o700, exist_ok=True)
                mine = not hasattr(os, "getuid") or path.stat().st_uid == os.getuid()
                usable = mine and os.access(path, os.W_OK | os.X_OK)
            except OSError:
                usable = False
            _private = path if usable else Path(tempfile.mkdtemp(prefix=f"glassbox-{uid}-"))
        return _private


def use_private_gradio_temp() -> None:
    """Point Gradio's temp folder (GRADIO_TEMP_DIR) into this user's own, unless the caller chose one.

    Must run before gradio is imported: gradio reads the variable at import (and makes a folder in it when
    its app is created) and again whenever a component is made.
    """
    os.environ.setdefault("GRADIO_TEMP_DIR", str(private_temp() / "gradio"))


# What a failed write means to a learner; errno -> the cause in words.
DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_FULL = {errno.ENOSPC: "the server's disk is full", errno.EDQUOT: "the server's disk quota is used up",
         errno.EFBIG: "the file is larger than the server allows"}


def write_failure(exc: OSError) -> str:
    """A sentence for the page or the API: what could not be written and why."""
    cause = _FULL.get(exc.errno, f"the server could not write it ({exc.strerror or exc.__class__.__name__})")
    return f"{cause[0].upper()}{cause[1:]}."


def write_atomic(path: Path, content: bytes | str) -> None:
    """Write the whole file or nothing: into a temporary name beside it, then renamed over it.

    A full disk (or any failed write) leaves no half-written file under `path` for anyone to download; the
    temporary file is removed and the OSError raised.
    """
    data = content.encode("utf-8") if isinstance(content, str) else content
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:40]}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def prune(paths: list[Path], max_files: int, max_age_s: float, now: float | None = None) -> list[Path]:
    """Delete the files older than max_age_s, then the oldest beyond max_files. Returns what was deleted.

    Age is measured from the last modification, so a file that was just re-used (touched) stays.
    """
    now = time.time() if now is None else now
    stamped = []
    for p in paths:
        try:
            stamped.append((p.stat().st_mtime, p))
        except FileNotFoundError:
            continue
    stamped.sort(reverse=True)  # newest first
    doomed = [p for i, (mtime, p) in enumerate(stamped) if i >= max_files or now - mtime > max_age_s]
    for p in doomed:
        try:
            p.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:  # a file in use on some systems: try again next round
            log.warning("could not delete %s: %s", p, exc)
    return doomed


def prune_dir(folder: Path, max_files: int, max_age_s: float) -> list[Path]:
    if not folder.is_dir():
        return []
    return prune([p for p in folder.iterdir() if p.is_file()], max_files, max_age_s)

