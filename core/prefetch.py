"""python -m core.prefetch [name ...]: download the hub weights of registry models into the HF cache.

Run it once with a network before a lecture; afterwards the hub models resolve from
the cache with no network at all. Without names, every model with hub weights is fetched.
Respects HF_ENDPOINT and HF_HUB_CACHE.
"""

from __future__ import annotations

import argparse
import sys

from core import models, weights


def prefetch(names: list[str] | None = None) -> dict[str, str]:
    """name -> local path (or 'error: ...'). Unknown names raise before anything downloads."""
    specs = [models.get_spec(n) for n in names] if names else list(models.MODELS.values())
    done: dict[str, str] = {}
    for spec in specs:
        if not spec.hub:
            done[spec.name] = "offline model: nothing to fetch"
            continue
        repo_id, filename = spec.hub
        try:
            done[spec.name] = str(weights.download(repo_id, filename, spec.hub_extra))
        except Exception as exc:  # noqa: BLE001 - report every model, then fail at the end
            done[spec.name] = f"error: {exc.__class__.__name__}: {exc}"
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"models to fetch (default: all). Known: {', '.join(models.MODELS)}")
    args = parser.parse_args(argv)
    try:
        done = prefetch(args.names)
    except models.UnknownModel as exc:
        print(exc, file=sys.stderr)
        return 2
    failed = 0
    for name, where in done.items():
        print(f"{name:20s} {where}")
        failed += where.startswith("error")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
