"""Provenance of a run: library versions and the code revision."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path

LIBRARIES = ("torch", "timm", "numpy", "scipy", "scikit-learn", "shap", "librosa", "soundfile", "essentia", "duckdb", "pandas")
REPOSITORY = Path(__file__).resolve().parent.parent


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries whose behaviour shapes the results, plus Python's."""
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_revision() -> str:
    """``git describe``-style revision of the code, with ``-dirty`` for uncommitted changes."""
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=12"],
            cwd=REPOSITORY,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
