"""Building a dataset adapter from a profile's ``[dataset]`` section (or ``[a2mid] train_dataset``).

:data:`ADAPTERS` is the registry: a dataset is one entry there (its engine module and classes, the
profile keys its config takes, its default folder) and one field per new key in
:class:`precompute.profile.DatasetSection`. Options the profile leaves out take the adapter's own
defaults (its config class in ``engine/datasets``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.datasets.base import ClipRecord, Dataset
from precompute.profile import DatasetSection, ProfileError


@dataclass(frozen=True)
class Adapter:
    """Where a dataset adapter lives and what it takes.

    ``module`` holds the ``config`` and ``dataset`` classes; ``options`` are the profile keys its
    config takes; ``root`` is its default folder under the data root (``""``: a root must be given;
    ``None``: it reads no files).
    """

    module: str
    config: str
    dataset: str
    options: tuple[str, ...]
    root: str | None


ADAPTERS: dict[str, Adapter] = {
    "synthetic": Adapter("engine.datasets.synthetic", "SyntheticConfig", "SyntheticCorpus",
                         ("n_songs", "clips_per_song", "clip_seconds", "seed", "confound"), root=None),
    "soundtracks": Adapter("engine.datasets.soundtracks", "SoundtracksConfig", "SoundtracksDataset",
                           ("split", "fractions", "split_seed"), root="soundtracks-set1"),
    "mtg_midlevel": Adapter("engine.datasets.mtg_midlevel", "MTGMidlevelConfig", "MTGMidlevelDataset",
                            ("exclude_sources", "fractions", "split_seed"), root="mtg-midlevel"),
    "kaggle_mec": Adapter("engine.datasets.kaggle_mec", "KaggleMECConfig", "KaggleMECDataset",
                          ("val_fraction", "split_seed"), root="kaggle-mec"),
    "folder": Adapter("engine.datasets.folder", "FolderConfig", "FolderDataset",
                      ("labels_csv", "fractions", "split_seed", "val_fraction"), root=""),
}
KNOWN = tuple(ADAPTERS)


def open_dataset(section: DatasetSection, *, data_root: Path) -> tuple[Dataset, list[ClipRecord], str]:
    """Open the adapter named by ``section.name``; return it, its records with splits and a description of the split.

    Relative ``root`` paths are resolved against ``data_root``.

    Raises
    ------
        precompute.profile.ProfileError: unknown dataset name, an option the adapter does not take, or no
            root for an adapter that needs one.
        engine.datasets.soundtracks.DatasetError: missing or malformed dataset files.
    """
    adapter = ADAPTERS.get(section.name)
    if adapter is None:
        raise ProfileError(f"unknown dataset {section.name!r} (known: {', '.join(KNOWN)})")
    given = {k: v for k, v in section.options().items() if k not in ("name", "root", "clip_seconds")}
    foreign = sorted(set(given) - set(adapter.options))
    if foreign:
        raise ProfileError(f"[dataset] {section.name!r} does not take {', '.join(foreign)} (it takes {', '.join(adapter.options)})")
    options: dict[str, Any] = {k: v for k, v in section.options().items() if k in adapter.options}
    if adapter.root is not None:
        if section.root is None and not adapter.root:
            raise ProfileError(f"[dataset] {section.name!r} needs a root option (the folder of audio, relative to the data root)")
        root = Path(section.root if section.root is not None else adapter.root)
        options["root"] = root if root.is_absolute() else data_root / root
    module = importlib.import_module(adapter.module)
    dataset = getattr(module, adapter.dataset)(getattr(module, adapter.config)(**options))
    return dataset, dataset.records(), dataset.split_name
