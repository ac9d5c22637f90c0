"""Profiles: named configuration files (TOML) under ``precompute/profiles/``.

A profile names the dataset and, per experiment family, the model sizes, seeds, epochs,
attribution methods and sonification gains. ``--profile NAME`` reads ``profiles/NAME.toml``;
``--profile path/to/file.toml`` reads any file. See ``profiles/demo.toml`` for every key.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROFILE_DIR = Path(__file__).parent / "profiles"
SELECTIONS = {"a2e": ("loss", "pearson_r"), "a2mid": ("loss", "pearson_r"), "vit": ("loss", "balanced_accuracy"), "cnn": ("loss", "balanced_accuracy")}
TARGET_SCALINGS = ("thesis", "standardised")  # precompute/stages/audio_regression.py
KNOWN_SECTIONS = {"profile", "dataset", "runtime", "a2e", "a2mid", "mid2e", "vit", "cnn", "sonification"}
PERCEPTUAL_SECTIONS = ("vit", "cnn")  # the section name is the backbone


class ProfileError(ValueError):
    """A profile file is missing or malformed; the message names the file and the problem."""


@dataclass(frozen=True)
class Profile:
    """A loaded profile: its name, source file and sections (plain dicts, as written in TOML)."""

    name: str
    path: Path
    sections: dict[str, Any]

    def section(self, name: str) -> dict[str, Any]:
        """One section, ``{}`` when the profile leaves that experiment family out."""
        return dict(self.sections.get(name, {}))

    @property
    def dataset(self) -> str:
        return str(self.sections["dataset"]["name"])

    def config_hash(self, *, data_root: str) -> str:
        """Short hash of everything that determines the results (sections plus data location)."""
        payload = json.dumps({"sections": self.sections, "data_root": data_root}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def available_profiles() -> list[str]:
    """Names of the profiles shipped in ``precompute/profiles``."""
    return sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))


def load_profile(name_or_path: str) -> Profile:
    """Load a shipped profile by name, or any profile file by path."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = PROFILE_DIR / f"{name_or_path}.toml"
    if not path.is_file():
        raise ProfileError(f"{path}: no such profile (shipped profiles: {', '.join(available_profiles())})")
    try:
        sections = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ProfileError(f"{path}: not valid TOML ({error})") from error
    unknown = set(sections) - KNOWN_SECTIONS
    if unknown:
        raise ProfileError(f"{path}: unknown section(s) {sorted(unknown)}; known: {sorted(KNOWN_SECTIONS)}")
    if "name" not in sections.get("dataset", {}):
        raise ProfileError(f"{path}: [dataset] needs a 'name'")
    _check_perceptual(path, sections)
    from engine.models.training import SCHEDULES  # imports torch, as the method check does

    for name in ("a2e", "a2mid", *PERCEPTUAL_SECTIONS):
        schedule = sections.get(name, {}).get("schedule", "constant")
        if schedule not in SCHEDULES:
            raise ProfileError(f"{path}: [{name}] schedule must be one of {list(SCHEDULES)}, got {schedule!r}")
        select = sections.get(name, {}).get("select", "loss")
        if select not in SELECTIONS[name]:
            raise ProfileError(f"{path}: [{name}] select must be one of {list(SELECTIONS[name])}, got {select!r}")
    if len(sections.get("a2mid", {}).get("inputs", [])) > 1:
        raise ProfileError(f"{path}: [a2mid] inputs takes one input (its descriptors feed Mid2E), got {sections['a2mid']['inputs']}")
    for name in ("a2e", "a2mid"):
        targets = sections.get(name, {}).get("targets", "thesis")
        if targets not in TARGET_SCALINGS:
            raise ProfileError(f"{path}: [{name}] targets must be one of {list(TARGET_SCALINGS)}, got {targets!r}")
    return Profile(name=str(sections.get("profile", {}).get("name", path.stem)), path=path, sections=sections)


def _check_perceptual(path: Path, sections: dict[str, Any]) -> None:
    """Refuse, before any training, attribution methods that do not fit a section's backbone."""
    from engine.audio.perceptual_images import IMAGES
    from engine.explain.attribution import check_methods  # imports torch: only when a profile is read

    for backbone in PERCEPTUAL_SECTIONS:
        section = sections.get(backbone)
        if not section:
            continue
        try:
            check_methods(list(section.get("methods", [])), backbone=backbone, where=f"{path} [{backbone}] methods")
        except ValueError as error:
            raise ProfileError(str(error)) from None
        image = section.get("image", "linear")
        if image not in IMAGES:
            raise ProfileError(f"{path}: [{backbone}] image must be one of {list(IMAGES)}, got {image!r}")
        if "clean_confound" in section:
            confound = section["clean_confound"]
            if not isinstance(confound, (int, float)) or not 0.0 <= float(confound) <= 1.0:
                raise ProfileError(f"{path}: [{backbone}] clean_confound must be a number in [0, 1], got {confound!r}")
