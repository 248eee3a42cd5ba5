"""The Python version Glassbox is tested on, named in three places, and whether the pins resolve for it.

python scripts/check_python.py [--offline]

Three files name the Python that Glassbox runs on, and they must agree:
- README.md's front matter (`python_version`): the version Hugging Face Spaces builds the Space with
  (its default is older than ours, and numpy==2.4.6 has no wheel for it);
- the Dockerfile's base image (`FROM python:X.Y-slim`);
- scripts/dev.sh (`PYTHON_VERSION=X.Y`), which makes the virtual environment the tests run in.

Then pip resolves every pinned requirement for that version without installing anything
(`pip install --dry-run --python-version X.Y`): it fails when a pin has no release or no wheel for it.
Pins that ship only a source archive (pure Python, listed in SOURCE_ONLY) are checked on their own,
for a release whose Requires-Python admits the version. --offline does only the first part.
Exit status 0 when all holds, 1 with a message that says what to change otherwise.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ("requirements.txt", "requirements-test.txt", "requirements-ray.txt")
# Pins that publish no wheel at all, only a source archive of pure Python code (they build anywhere).
SOURCE_ONLY = {"grad-cam"}


def declared_versions(root: Path = ROOT) -> dict[str, str | None]:
    """{place: the X.Y it names, or None when it names none}."""
    readme = (root / "README.md").read_text(encoding="utf-8")
    front = readme.split("---", 2)[1] if readme.startswith("---") else ""
    m_front = re.search(r"^python_version:\s*[\"']?(\d+\.\d+)[\"']?\s*$", front, re.M)
    m_docker = re.search(r"^FROM\s+python:(\d+\.\d+)\b", (root / "Dockerfile").read_text(encoding="utf-8"), re.M)
    m_dev = re.search(r"^PYTHON_VERSION=(\d+\.\d+)\s*$", (root / "scripts" / "dev.sh").read_text(encoding="utf-8"),
                      re.M)
    return {"README.md front matter (python_version)": m_front and m_front.group(1),
            "Dockerfile (FROM python:X.Y)": m_docker and m_docker.group(1),
            "scripts/dev.sh (PYTHON_VERSION)": m_dev and m_dev.group(1)}


def agreed_version(root: Path = ROOT) -> str:
    """The one version all three places name; ValueError saying which disagree otherwise."""
    found = declared_versions(root)
    missing = [place for place, v in found.items() if not v]
    if missing:
        raise ValueError("No Python version named in: " + "; ".join(missing))
    if len(set(found.values())) > 1:
        raise ValueError("The Python versions disagree: " + "; ".join(f"{p} says {v}" for p, v in found.items())
                         + ". Name the one the tests run on in all three.")
    return next(iter(found.values()))  # type: ignore[return-value]


def pins(root: Path = ROOT) -> list[str]:
    """Every `name==version` line of the requirement files, in order."""
    out = []
    for name in REQUIREMENTS:
        for line in (root / name).read_text(encoding="utf-8").splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                out.append(line)
    return out


def _name(pin: str) -> str:
    return re.split(r"[<>=!~\[; ]", pin, maxsplit=1)[0].strip().lower().replace("_", "-")


def _pip(args: list[str], target: str) -> tuple[int, str]:
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", "--target", target,
           "--disable-pip-version-check", "--timeout", "20", "--retries", "2", *args]
    p = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PIP_NO_INPUT": "1"})
    lines = [ln for ln in (p.stdout + p.stderr).splitlines() if ln.startswith("ERROR")]
    return p.returncode, "\n".join(lines[-3:])


def resolve(version: str, requirements: list[str]) -> list[str]:
    """Problems found when pip resolves the pins for Python `version` (empty: all resolve)."""
    wheels = [r for r in requirements if _name(r) not in SOURCE_ONLY]
    sources = [r for r in requirements if _name(r) in SOURCE_ONLY]
    problems = []
    with tempfile.TemporaryDirectory(prefix="glassbox-pycheck-") as target:
        # Every wheel pin and everything they pull in, as pip would install them on that Python.
        rc, err = _pip(["--only-binary=:all:", "--python-version", version, *wheels], target)
        if rc:
            problems.append(f"the pins do not resolve to wheels for Python {version}:\n{err}")
        if sources:  # a release must exist whose Requires-Python admits the version
            rc, err = _pip(["--no-deps", "--only-binary=:all:", "--no-binary", ",".join(sorted(SOURCE_ONLY)),
                            "--python-version", version, *sources], target)
            if rc:
                problems.append(f"a source-only pin has no release for Python {version}:\n{err}")
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--offline", action="store_true", help="only check that the three places agree")
    args = ap.parse_args()
    try:
        version = agreed_version()
    except ValueError as exc:
        print(f"!! {exc}", file=sys.stderr)
        return 1
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    if running != version:
        print(f"!! The tests run on Python {running}, but the project declares {version}: "
              f"recreate .venv with python{version} (scripts/dev.sh does).", file=sys.stderr)
        return 1
    if args.offline:
        print(f">> Python {version}: README front matter, Dockerfile and scripts/dev.sh agree")
        return 0
    problems = resolve(version, pins())
    for p in problems:
        print(f"!! {p}", file=sys.stderr)
    if not problems:
        print(f">> Python {version}: named alike in README front matter, Dockerfile and scripts/dev.sh; "
              f"all {len(pins())} pins resolve for it")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
