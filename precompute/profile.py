"""Profiles: named configuration files (TOML) under ``precompute/profiles/``.

A profile names the dataset and, per experiment family, the model sizes, seeds, epochs,
attribution methods and sonification gains. ``--profile NAME`` reads ``profiles/NAME.toml``;
``--profile path/to/file.toml`` reads any file. See ``profiles/demo.toml`` for every key.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROFILE_DIR = Path(__file__).parent / "profiles"
SELECTIONS = {"a2e": ("loss", "pearson_r"), "a2mid": ("loss", "pearson_r"), "vit": ("loss", "balanced_accuracy"), "cnn": ("loss", "balanced_accuracy")}
TARGET_SCALINGS = ("thesis", "standardised")  # precompute/stages/audio_regression.py
_TRAINING = {"seeds", "epochs", "batch_size", "learning_rate", "weight_decay", "patience", "schedule", "time_shift", "select"}
_AUDIO_REGRESSION = _TRAINING | {"inputs", "widths", "dropout", "mlp_hidden", "targets", "transpose"}
_PERCEPTUAL = _TRAINING | {"methods", "method_options", "explain_per_cell", "faithfulness_clips", "sanity_clips", "clean_confound", "image"}
KNOWN_KEYS: dict[str, set[str]] = {
    "profile": {"name", "description"},
    # the union over the adapters (precompute/datasets.py): each adapter reads its own
    "dataset": {"name", "root", "clip_seconds", "n_songs", "clips_per_song", "seed", "confound", "split", "fractions",
                "split_seed", "exclude_sources", "val_fraction", "labels_csv"},
    "a2e": _AUDIO_REGRESSION,
    "a2mid": _AUDIO_REGRESSION | {"train_dataset"},
    "mid2e": {"sources", "feature_sets", "heads", "interaction_sets", "seeds", "shap_background", "nn_hidden", "nn_dropout",
              "nn_epochs", "nn_batch_size", "nn_learning_rate", "nn_patience"},
    "vit": _PERCEPTUAL | {"architecture", "overrides", "weights"},
    "cnn": _PERCEPTUAL | {"widths", "dropout"},
    "sonification": {"gains"},
}
"""Every key each section may hold; anything else is refused when the profile is read."""
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
    for section, values in sections.items():
        if section not in KNOWN_KEYS:
            raise ProfileError(f"{path}: unknown section [{section}]{_did_you_mean(section, KNOWN_KEYS)}; "
                               f"known: {sorted(KNOWN_KEYS)}")
        if not isinstance(values, dict):
            raise ProfileError(f"{path}: [{section}] must be a table of keys, got {values!r}")
        for key in values:
            if key not in KNOWN_KEYS[section]:
                raise ProfileError(f"{path}: [{section}] unknown key {key!r}{_did_you_mean(key, KNOWN_KEYS[section])}; "
                                   f"known: {', '.join(sorted(KNOWN_KEYS[section]))}")
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


def _did_you_mean(word: str, choices: set[str]) -> str:
    """`` (did you mean 'epochs'?)`` for the nearest valid name, or nothing when none is close."""
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_perceptual(path: Path, sections: dict[str, Any]) -> None:
    """Refuse, before any training, attribution methods that do not fit a section's backbone."""
    from engine.audio.perceptual_images import IMAGES
    from engine.explain.attribution import check_method_options, check_methods  # imports torch: only when a profile is read

    for backbone in PERCEPTUAL_SECTIONS:
        section = sections.get(backbone)
        if not section:
            continue
        try:
            check_methods(list(section.get("methods", [])), backbone=backbone, where=f"{path} [{backbone}] methods")
            options = section.get("method_options", {})
            if not isinstance(options, dict) or not all(isinstance(v, dict) for v in options.values()):
                raise ValueError(f"{path} [{backbone}] method_options must map a method to a table of options, "
                                 f"e.g. {{ integrated_gradients = {{ steps = 32 }} }}")
            check_method_options(options, where=f"{path} [{backbone}] method_options")
        except ValueError as error:
            raise ProfileError(str(error)) from None
        image = section.get("image", "linear")
        if image not in IMAGES:
            raise ProfileError(f"{path}: [{backbone}] image must be one of {list(IMAGES)}, got {image!r}")
        if "clean_confound" in section:
            confound = section["clean_confound"]
            if not isinstance(confound, (int, float)) or not 0.0 <= float(confound) <= 1.0:
                raise ProfileError(f"{path}: [{backbone}] clean_confound must be a number in [0, 1], got {confound!r}")
