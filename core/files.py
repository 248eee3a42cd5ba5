"""Keep a folder of generated files (downloads, exports) bounded by count and by age."""

from __future__ import annotations

import logging
import time
from pathlib import Path

log = logging.getLogger("glassbox.files")


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

