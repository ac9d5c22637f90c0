"""Profiles: named configuration files (TOML) under ``precompute/profiles/``, read into typed sections.

A profile names the dataset and, per experiment family, the model sizes, seeds, epochs,
attribution methods and sonification gains. ``--profile NAME`` reads ``profiles/NAME.toml``;
``--profile path/to/file.toml`` reads any file. ``profiles/demo.toml`` explains every key.

Each section is one frozen dataclass below, and its defaults are written there and nowhere else.
An unknown section or key, or a value of the wrong type, is refused with one line naming the file,
the section and the key (with the nearest valid key when one is close). A profile may leave out any
experiment family (``[a2e]``, ``[a2mid]``, ``[mid2e]``, ``[vit]``, ``[cnn]``): that family is not run.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from results.settings import NamedGain

PROFILE_DIR = Path(__file__).parent / "profiles"
THESIS_WIDTHS = (64, 64, 128, 128, 256, 256, 384, 512, 256)  # engine.models.cnn.THESIS_WIDTHS (not imported: no torch here)
TARGET_SCALINGS = ("thesis", "standardised")  # precompute/stages/audio_regression.py
CHROMA_BACKBONES = ("thesis", "circular")  # precompute/stages/audio_regression.py
FUSIONS = ("joint", "branches_first")  # precompute/stages/audio_regression.py


class ProfileError(ValueError):
    """A profile file is missing or malformed; the message names the file and the problem."""


@dataclass(frozen=True)
class ProfileInfo:
    """``[profile]``: the profile's name, what it is for, and where features are cached.

    The name gives the default results file (``data/<name>.duckdb``); ``cache_dir`` is overridden by
    ``--cache-dir`` and defaults to ``data/cache``.
    """

    name: str = ""
    description: str = ""
    cache_dir: str | None = None


@dataclass(frozen=True)
class DatasetSection:
    """``[dataset]`` (and ``[a2mid] train_dataset``): which adapter reads which data.

    ``name`` picks the adapter (:data:`precompute.datasets.KNOWN`); ``root`` is relative to the data
    root unless absolute. The other keys are options of one adapter; left out (``None``), the
    adapter's own default applies (see its config class in ``engine/datasets``).
    """

    name: str
    root: str | None = None
    clip_seconds: float = 10.0
    # the synthetic generator (engine.datasets.synthetic.SyntheticConfig)
    n_songs: int | None = None
    clips_per_song: int | None = None
    seed: int | None = None
    confound: float | None = None
    # splits of the real-data adapters
    split: str | None = None
    fractions: tuple[float, ...] | None = None
    split_seed: int | None = None
    exclude_sources: tuple[str, ...] | None = None
    val_fraction: float | None = None
    labels_csv: str | None = None

    def options(self) -> dict[str, Any]:
        """Return the keys the profile set (``None`` left out), as the adapter and the feature cache's key take them."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


@dataclass(frozen=True)
class Training:
    """Optimisation settings shared by every trained section (:class:`engine.models.training.TrainConfig`)."""

    seeds: tuple[int, ...] = (0,)
    epochs: int = 30
    batch_size: int = 16
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    patience: int = 10
    schedule: str = "constant"
    time_shift: bool = False
    select: str = "loss"
    transpose: bool = False
    spec_augment: bool = False
    mixup: float = 0.0


@dataclass(frozen=True)
class AudioRegressionSection(Training):
    """``[a2e]``: CNN/MLP regressors from audio representations to the emotion ratings."""

    inputs: tuple[str, ...] = ()
    widths: tuple[int, ...] = THESIS_WIDTHS
    dropout: float = 0.3
    mlp_hidden: tuple[int, ...] = (64, 32)
    targets: str = "thesis"
    chroma_backbone: str = "thesis"  # or "circular": keep and wrap the 12 pitch classes (engine.models.cnn)
    fusion: str = "joint"  # late fusion trained end to end (the thesis), or "branches_first": the average of the trained branches


@dataclass(frozen=True)
class A2MidSection(AudioRegressionSection):
    """``[a2mid]``: the same regressors to the mid-level descriptors, optionally trained on another dataset."""

    train_dataset: DatasetSection | None = None


@dataclass(frozen=True)
class Mid2ESection:
    """``[mid2e]``: linear and shallow heads from descriptor sets to the emotion ratings."""

    sources: tuple[str, ...] = ("annotated",)
    feature_sets: tuple[str, ...] = ()
    heads: tuple[str, ...] = ()
    interaction_sets: tuple[str, ...] | None = None  # None: every feature set
    seeds: tuple[int, ...] = (0,)
    shap_background: int = 100
    nn_hidden: tuple[int, ...] = (32,)
    nn_dropout: float = 0.3
    nn_epochs: int = 300
    nn_batch_size: int = 16
    nn_learning_rate: float = 1e-3
    nn_patience: int = 15


@dataclass(frozen=True)
class PerceptualSection(Training):
    """``[vit]`` and ``[cnn]``: a Happy/Sad classifier on spectrogram images, with its explanations."""

    epochs: int = 60
    batch_size: int = 8
    learning_rate: float = 1e-4
    methods: tuple[str, ...] = ("gradient_x_input", "random")
    method_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    explain_per_cell: int = 5
    faithfulness_clips: int = 32  # spread over songs; 0 = every test clip (on a large test split, a long wait)
    sanity_clips: int = 4
    clean_confound: float | None = None
    image: str = "linear"
    train_crops: int = 1  # windows per training excerpt, spread over it (random crops of longer excerpts)
    clean_without: tuple[str, ...] = ()  # clean model only: each training clip also re-rendered without these stems

    def model_spec(self) -> dict[str, Any]:
        """Return the model spec :func:`engine.models.perceptual.create_perceptual_model` builds (per backbone)."""
        raise NotImplementedError(f"{type(self).__name__} names no model")

    def head(self) -> str:
        """Return the experiment id's head (per backbone)."""
        raise NotImplementedError(f"{type(self).__name__} names no model")


@dataclass(frozen=True)
class VitSection(PerceptualSection):
    """``[vit]``: a timm Vision Transformer; ``weights`` is ``""`` (random), ``"hub"`` or a local file."""

    architecture: str = "vit_tiny_patch16_224"
    overrides: dict[str, Any] = field(default_factory=dict)
    weights: str = ""
    stem: str = "patch"

    def model_spec(self) -> dict[str, Any]:
        """Return the model spec :func:`engine.models.perceptual.create_perceptual_model` builds."""
        stem = {} if self.stem == "patch" else {"stem": self.stem}  # specs stored before stems existed stay valid
        return {"backbone": "vit", "architecture": self.architecture, "num_classes": 2, "in_chans": 1, **self.overrides,
                **stem, "image": self.image}

    def head(self) -> str:
        """Return the experiment id's head: the timm architecture."""
        return self.architecture


@dataclass(frozen=True)
class CnnSection(PerceptualSection):
    """``[cnn]``: the VGG-style CNN classifier (:class:`engine.models.cnn.CNNClassifier`)."""

    widths: tuple[int, ...] = (8, 8, 16, 16, 32, 32, 48, 64, 64)
    dropout: float = 0.3

    def model_spec(self) -> dict[str, Any]:
        """Return the model spec :func:`engine.models.perceptual.create_perceptual_model` builds."""
        return {"backbone": "cnn", "num_classes": 2, "widths": list(self.widths), "dropout": self.dropout, "image": self.image}

    def head(self) -> str:
        """Return the experiment id's head."""
        return "cnn"


@dataclass(frozen=True)
class SonificationSection:
    """``[sonification]``: the gains stored audio is rendered with (the first is the pages' default)."""

    gains: tuple[NamedGain, ...] = (NamedGain(name="R^2", power=2.0),)


BACKBONE_SECTIONS: dict[str, type[PerceptualSection]] = {"vit": VitSection, "cnn": CnnSection}
"""The perceptual backbones a profile may train, each its own section (``[vit]``, ``[cnn]``) with the
class that reads it; a new backbone is one entry here, one section class and its engine module."""
PERCEPTUAL_SECTIONS = tuple(BACKBONE_SECTIONS)
FAMILIES: dict[str, type] = {"a2e": AudioRegressionSection, "a2mid": A2MidSection, "mid2e": Mid2ESection}
SECTIONS: dict[str, type] = {
    "profile": ProfileInfo, "dataset": DatasetSection, **FAMILIES, **BACKBONE_SECTIONS, "sonification": SonificationSection,
}
"""Every section a profile may hold, and the dataclass that reads it."""
KNOWN_KEYS: dict[str, set[str]] = {name: {f.name for f in dataclasses.fields(cls)} for name, cls in SECTIONS.items()}
"""Every key each section may hold; anything else is refused when the profile is read."""
SELECTIONS = {"a2e": ("loss", "pearson_r", "last"), "a2mid": ("loss", "pearson_r", "last"),
              **{backbone: ("loss", "balanced_accuracy", "last") for backbone in BACKBONE_SECTIONS}}


@dataclass(frozen=True)
class Profile:
    """A loaded profile: its name and file, the sections as written, and each section typed.

    A family the profile leaves out is ``None`` (or absent from ``backbones``); ``dataset`` and
    ``sonification`` are always there.
    """

    name: str
    path: Path
    written: dict[str, Any]
    info: ProfileInfo
    dataset: DatasetSection
    a2e: AudioRegressionSection | None
    a2mid: A2MidSection | None
    mid2e: Mid2ESection | None
    backbones: dict[str, PerceptualSection]
    sonification: SonificationSection

    @property
    def vit(self) -> VitSection | None:
        """The ``[vit]`` section, or ``None``."""
        return self.backbones.get("vit")  # type: ignore[return-value]

    @property
    def cnn(self) -> CnnSection | None:
        """The ``[cnn]`` section, or ``None``."""
        return self.backbones.get("cnn")  # type: ignore[return-value]

    def resolved(self) -> dict[str, Any]:
        """Every section the profile has, with every key (defaults filled in): what ``runs.config`` stores."""
        sections = {"profile": self.info, "dataset": self.dataset, **{name: getattr(self, name) for name in FAMILIES},
                    **self.backbones, "sonification": self.sonification}
        return {name: dataclasses.asdict(section) for name, section in sections.items() if section is not None}

    def config_hash(self, *, data_root: str) -> str:
        """Short hash of everything that determines the results (the sections as written, plus the data location).

        Where the feature cache lives does not change a result, so ``[profile] cache_dir`` is left out.
        """
        written = dict(self.written)
        if "profile" in written:
            written["profile"] = {k: v for k, v in written["profile"].items() if k != "cache_dir"}
        payload = json.dumps({"sections": written, "data_root": data_root}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def available_profiles() -> list[str]:
    """Names of the profiles shipped in ``precompute/profiles``."""
    return sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))


def load_profile(name_or_path: str) -> Profile:
    """Load a shipped profile by name, or any profile file by path.

    Raises
    ------
    ProfileError
        No such file, invalid TOML, an unknown section or key, a value of the wrong type, or a value
        outside its choices (named with the file, section and key).
    """
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = PROFILE_DIR / f"{name_or_path}.toml"
    if not path.is_file():
        raise ProfileError(f"{path}: no such profile (shipped profiles: {', '.join(available_profiles())})")
    try:
        written = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ProfileError(f"{path}: not valid TOML ({error})") from error
    return parse_profile(written, path=path)


def parse_profile(written: dict[str, Any], *, path: Path) -> Profile:
    """Type and check the sections of a profile (as TOML gives them); ``path`` names it in messages.

    Raises
    ------
    ProfileError
        An unknown section or key, a value of the wrong type or outside its choices.
    """
    for section in written:
        if section not in SECTIONS:
            raise ProfileError(f"{path}: unknown section [{section}]{_did_you_mean(section, set(SECTIONS))}; "
                               f"known: {sorted(SECTIONS)}")
    if "name" not in written.get("dataset", {}):
        raise ProfileError(f"{path}: [dataset] needs a 'name'")
    typed = {name: _read(cls, written[name], where=f"{path}: [{name}]") for name, cls in SECTIONS.items() if name in written}
    a2mid = typed.get("a2mid")
    if a2mid is not None and "train_dataset" in written["a2mid"]:
        # the training dataset takes the main clip length unless it sets its own
        train = {"clip_seconds": typed["dataset"].clip_seconds, **written["a2mid"]["train_dataset"]}
        typed["a2mid"] = dataclasses.replace(a2mid, train_dataset=_read(DatasetSection, train, where=f"{path}: [a2mid] train_dataset"))
    info = typed.get("profile", ProfileInfo())
    profile = Profile(
        name=info.name or path.stem,
        path=path,
        written=written,
        info=info,
        dataset=typed["dataset"],
        a2e=typed.get("a2e"),
        a2mid=typed.get("a2mid"),
        mid2e=typed.get("mid2e"),
        backbones={name: typed[name] for name in BACKBONE_SECTIONS if name in typed},
        sonification=typed.get("sonification", SonificationSection()),
    )
    _check_choices(profile)
    return profile


def _read(cls: type, values: Any, *, where: str) -> Any:
    """One section (a TOML table) as its dataclass: unknown keys and wrong types are refused."""
    if not isinstance(values, dict):
        raise ProfileError(f"{where} must be a table of keys, got {values!r}")
    known = {f.name for f in dataclasses.fields(cls)}
    for key in values:
        if key not in known:
            raise ProfileError(f"{where} unknown key {key!r}{_did_you_mean(key, known)}; known: {', '.join(sorted(known))}")
    hints = typing.get_type_hints(cls)
    try:
        return cls(**{key: _value(value, hints[key], where=f"{where} {key}") for key, value in values.items()})
    except TypeError as error:  # a required key (``name``) is missing
        raise ProfileError(f"{where} is incomplete ({error})") from None
    except ValueError as error:  # a value outside its range (the section class checks it)
        raise ProfileError(f"{where} {error}") from None


def _value(value: Any, hint: Any, *, where: str) -> Any:
    """``value`` as the type ``hint`` says (lists become tuples, ints become floats where a float is asked)."""
    origin, arguments = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return _value(value, next(a for a in arguments if a is not type(None)), where=where)
    if dataclasses.is_dataclass(hint):
        return _read(hint, value, where=where + ":")
    if origin is tuple and isinstance(value, list):
        return tuple(_value(item, arguments[0], where=where) for item in value)
    if origin is dict and isinstance(value, dict):
        return dict(value)
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint in (int, str, bool) and isinstance(value, hint) and not (hint is int and isinstance(value, bool)):
        return value
    if hint is Any:
        return value
    raise ProfileError(f"{where} must be {_describe(hint)}, got {value!r}")


def _describe(hint: Any) -> str:
    origin, arguments = typing.get_origin(hint), typing.get_args(hint)
    if origin is tuple:
        return f"a list of {_describe(arguments[0]).removeprefix('a ').removeprefix('an ')}s"
    if origin is dict:
        return "a table"
    if dataclasses.is_dataclass(hint):
        return "a table"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(hint, str(hint))


def _did_you_mean(word: str, choices: set[str]) -> str:
    """`` (did you mean 'epochs'?)`` for the nearest valid name, or nothing when none is close."""
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_choices(profile: Profile) -> None:
    """Refuse, before any training, values outside their choices."""
    from engine.models.training import SCHEDULES  # imports torch: only once a profile has been read

    path = profile.path
    trained = {"a2e": profile.a2e, "a2mid": profile.a2mid, **profile.backbones}
    for name, section in trained.items():
        if section is None:
            continue
        if section.schedule not in SCHEDULES:
            raise ProfileError(f"{path}: [{name}] schedule must be one of {list(SCHEDULES)}, got {section.schedule!r}")
        if section.select not in SELECTIONS[name]:
            raise ProfileError(f"{path}: [{name}] select must be one of {list(SELECTIONS[name])}, got {section.select!r}")
        if not section.mixup >= 0:  # its type is checked when the profile is read
            raise ProfileError(f"{path}: [{name}] mixup must be 0 (off) or a positive Beta parameter such as 0.2, "
                               f"got {section.mixup!r}")
    if profile.a2mid is not None and len(profile.a2mid.inputs) > 1:
        raise ProfileError(f"{path}: [a2mid] inputs takes one input (its descriptors feed Mid2E), got {list(profile.a2mid.inputs)}")
    for name in ("a2e", "a2mid"):
        section = getattr(profile, name)
        if section is not None and section.targets not in TARGET_SCALINGS:
            raise ProfileError(f"{path}: [{name}] targets must be one of {list(TARGET_SCALINGS)}, got {section.targets!r}")
        if section is not None and section.chroma_backbone not in CHROMA_BACKBONES:
            raise ProfileError(f"{path}: [{name}] chroma_backbone must be one of {list(CHROMA_BACKBONES)}, "
                               f"got {section.chroma_backbone!r}")
        if section is not None and section.fusion not in FUSIONS:
            raise ProfileError(f"{path}: [{name}] fusion must be one of {list(FUSIONS)}, got {section.fusion!r}")
    _check_perceptual(profile)


def _check_perceptual(profile: Profile) -> None:
    """Refuse attribution methods, options and images that do not fit a section's backbone."""
    from engine.audio.perceptual_images import IMAGES
    from engine.explain.attribution import check_method_options, check_methods  # imports torch
    from engine.models.vit import STEMS
    from engine.synth.render import STEMS as SYNTH_STEMS

    path = profile.path
    for backbone, section in profile.backbones.items():
        try:
            check_methods(list(section.methods), backbone=backbone, where=f"{path} [{backbone}] methods")
            options = section.method_options
            if not all(isinstance(v, dict) for v in options.values()):
                raise ValueError(f"{path} [{backbone}] method_options must map a method to a table of options, "
                                 f"e.g. {{ integrated_gradients = {{ steps = 32 }} }}")
            check_method_options(options, where=f"{path} [{backbone}] method_options")
        except ValueError as error:
            raise ProfileError(str(error)) from None
        if section.image not in IMAGES:
            raise ProfileError(f"{path}: [{backbone}] image must be one of {list(IMAGES)}, got {section.image!r}")
        if isinstance(section, VitSection) and section.stem not in STEMS:
            raise ProfileError(f"{path}: [vit] stem must be one of {list(STEMS)}, got {section.stem!r}")
        if isinstance(section, VitSection) and section.stem != "patch" and section.weights == "hub":
            raise ProfileError(f"{path}: [vit] stem = {section.stem!r} has no ImageNet weights on the hub; use "
                               f"weights = \"\" (from scratch) or a checkpoint file of this model")
        if section.train_crops < 1:
            raise ProfileError(f"{path}: [{backbone}] train_crops must be a whole number of windows, at least 1, "
                               f"got {section.train_crops!r}")
        confound = section.clean_confound
        if confound is not None and not 0.0 <= confound <= 1.0:
            raise ProfileError(f"{path}: [{backbone}] clean_confound must be a number in [0, 1], got {confound!r}")
        unknown_stems = sorted(set(section.clean_without) - set(SYNTH_STEMS))
        if unknown_stems:
            raise ProfileError(f"{path}: [{backbone}] clean_without names no stem {unknown_stems}; "
                               f"choose among {list(SYNTH_STEMS)}")
        if section.clean_without and confound is None:
            raise ProfileError(f"{path}: [{backbone}] clean_without shapes the clean model's training; "
                               f"set clean_confound too (or remove clean_without)")
