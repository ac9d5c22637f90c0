"""Building a dataset adapter from a profile's ``[dataset]`` options (or ``[a2mid] train_dataset``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from engine.datasets.base import ClipRecord, Dataset

KNOWN = ("synthetic", "soundtracks", "mtg_midlevel", "kaggle_mec", "folder")


def open_dataset(options: Mapping[str, Any], *, data_root: Path) -> tuple[Dataset, list[ClipRecord], str]:
    """The adapter named by ``options["name"]``, its records with splits, and a description of the split.

    Relative ``root`` paths are resolved against ``data_root``.

    Raises:
        ValueError: unknown dataset name.
        engine.datasets.soundtracks.DatasetError: missing or malformed dataset files.
    """
    options = dict(options)
    name = options.pop("name")
    if name != "synthetic":
        options.pop("clip_seconds", None)  # only the generator takes it; others are cut to length
    if name == "synthetic":
        from engine.datasets.synthetic import SyntheticConfig, SyntheticCorpus

        dataset = SyntheticCorpus(SyntheticConfig(**options))
        return dataset, dataset.records(), "group-aware by song (synthetic generator)"
    if name == "soundtracks":
        from engine.datasets.soundtracks import SoundtracksConfig, SoundtracksDataset

        dataset = SoundtracksDataset(
            SoundtracksConfig(
                root=_root(options, data_root, "soundtracks-set1"),
                split=str(options.get("split", "group")),
                fractions=tuple(options.get("fractions", (0.7, 0.1, 0.2))),
                split_seed=int(options.get("split_seed", 0)),
            )
        )
        return dataset, dataset.records(), dataset.split_name
    if name == "mtg_midlevel":
        from engine.datasets.mtg_midlevel import MTGMidlevelConfig, MTGMidlevelDataset

        dataset = MTGMidlevelDataset(
            MTGMidlevelConfig(
                root=_root(options, data_root, "mtg-midlevel"),
                exclude_sources=tuple(options.get("exclude_sources", ())),
                fractions=tuple(options.get("fractions", (0.8, 0.1, 0.1))),
                split_seed=int(options.get("split_seed", 0)),
            )
        )
        return dataset, dataset.records(), dataset.split_name
    if name == "kaggle_mec":
        from engine.datasets.kaggle_mec import KaggleMECConfig, KaggleMECDataset

        dataset = KaggleMECDataset(
            KaggleMECConfig(
                root=_root(options, data_root, "kaggle-mec"),
                val_fraction=float(options.get("val_fraction", 0.1)),
                split_seed=int(options.get("split_seed", 0)),
            )
        )
        return dataset, dataset.records(), dataset.split_name
    if name == "folder":
        from engine.datasets.folder import FolderConfig, FolderDataset

        if "root" not in options:
            raise ValueError("dataset 'folder' needs a root option (the folder of audio, relative to the data root)")
        labels_csv = options.get("labels_csv")
        dataset = FolderDataset(
            FolderConfig(
                root=_root(options, data_root, ""),
                labels_csv=str(labels_csv) if labels_csv else None,
                fractions=tuple(float(f) for f in options.get("fractions", (0.7, 0.1, 0.2))),
                split_seed=int(options.get("split_seed", 0)),
            )
        )
        return dataset, dataset.records(), dataset.split_name
    raise ValueError(f"unknown dataset {name!r} (known: {', '.join(KNOWN)})")


def _root(options: Mapping[str, Any], data_root: Path, default: str) -> Path:
    root = Path(options.get("root", default))
    return root if root.is_absolute() else data_root / root
