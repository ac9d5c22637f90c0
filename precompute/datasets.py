"""Building a dataset adapter from a profile's ``[dataset]`` section (or ``[a2mid] train_dataset``).

Options the profile leaves out take the adapter's own defaults (its config class in ``engine/datasets``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.datasets.base import ClipRecord, Dataset
from precompute.profile import DatasetSection

KNOWN = ("synthetic", "soundtracks", "mtg_midlevel", "kaggle_mec", "folder")
# the options each adapter's config takes (from DatasetSection); others in the section are refused
OPTIONS = {
    "synthetic": ("n_songs", "clips_per_song", "clip_seconds", "seed", "confound"),
    "soundtracks": ("split", "fractions", "split_seed"),
    "mtg_midlevel": ("exclude_sources", "fractions", "split_seed"),
    "kaggle_mec": ("val_fraction", "split_seed"),
    "folder": ("labels_csv", "fractions", "split_seed"),
}
DEFAULT_ROOTS = {"soundtracks": "soundtracks-set1", "mtg_midlevel": "mtg-midlevel", "kaggle_mec": "kaggle-mec"}


def open_dataset(section: DatasetSection, *, data_root: Path) -> tuple[Dataset, list[ClipRecord], str]:
    """Open the adapter named by ``section.name``; return it, its records with splits and a description of the split.

    Relative ``root`` paths are resolved against ``data_root``.

    Raises
    ------
        ValueError: unknown dataset name, an option the adapter does not take, or no root for ``folder``.
        engine.datasets.soundtracks.DatasetError: missing or malformed dataset files.
    """
    name = section.name
    if name not in KNOWN:
        raise ValueError(f"unknown dataset {name!r} (known: {', '.join(KNOWN)})")
    given = {k: v for k, v in section.options().items() if k not in ("name", "root", "clip_seconds")}
    foreign = sorted(set(given) - set(OPTIONS[name]))
    if foreign:
        raise ValueError(f"dataset {name!r} does not take {', '.join(foreign)} (it takes {', '.join(OPTIONS[name])})")
    options: dict[str, Any] = {k: v for k, v in section.options().items() if k in OPTIONS[name]}
    if name == "synthetic":
        from engine.datasets.synthetic import SyntheticConfig, SyntheticCorpus

        dataset = SyntheticCorpus(SyntheticConfig(**options))
        return dataset, dataset.records(), "group-aware by song (synthetic generator)"
    if name == "folder" and section.root is None:
        raise ValueError("dataset 'folder' needs a root option (the folder of audio, relative to the data root)")
    root = Path(section.root if section.root is not None else DEFAULT_ROOTS[name])
    options["root"] = root if root.is_absolute() else data_root / root
    if name == "soundtracks":
        from engine.datasets.soundtracks import SoundtracksConfig, SoundtracksDataset

        dataset = SoundtracksDataset(SoundtracksConfig(**options))
    elif name == "mtg_midlevel":
        from engine.datasets.mtg_midlevel import MTGMidlevelConfig, MTGMidlevelDataset

        dataset = MTGMidlevelDataset(MTGMidlevelConfig(**options))
    elif name == "kaggle_mec":
        from engine.datasets.kaggle_mec import KaggleMECConfig, KaggleMECDataset

        dataset = KaggleMECDataset(KaggleMECConfig(**options))
    else:
        from engine.datasets.folder import FolderConfig, FolderDataset

        dataset = FolderDataset(FolderConfig(**options))
    return dataset, dataset.records(), dataset.split_name
