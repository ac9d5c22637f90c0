"""The corpus unit: clips and their labels, skipped clips, display images and original audio.

Images and audio are stored for the test split only: they are what the dashboard shows next to
test-set predictions and explanations.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from engine.audio.representations import VIT_SIZE
from engine.music.features import MUSIC_FEATURES
from engine.vocabulary import SAMPLE_RATE
from precompute.context import RunContext
from precompute.database import Rows
from precompute.progress import bar
from precompute.stages import Unit
from results.codecs import AUDIO_FORMAT, encode_array, encode_stored_audio

REFERENCE_COLUMNS = ("table", "route", "input", "head", "feature_set", "target", "metric", "mean", "sd", "seeds", "note")


def units(ctx: RunContext, *, reference_csv: Path | None) -> list[Unit]:
    """Return the one ``corpus`` unit: clips, per-clip values and features, display images, audio, reference figures."""
    return [Unit("corpus", lambda: corpus_rows(ctx, reference_csv=reference_csv))]


def corpus_rows(ctx: RunContext, *, reference_csv: Path | None) -> Rows:
    """Compute the corpus unit's rows."""
    features = ctx.features()
    clips, values = [], []
    for record in ctx.records:
        clips.append(
            {
                "dataset": record.dataset,
                "clip_id": record.clip_id,
                "group_id": record.group,
                "split": record.split,
                "label": record.label or "",
                "source": record.path or "",
            }
        )
        for kind, mapping in (("emotion", record.emotions), ("midlevel", record.midlevel), ("factor", record.factors)):
            values += [
                {"dataset": record.dataset, "clip_id": record.clip_id, "kind": kind, "name": k, "value": float(v)}
                for k, v in mapping.items()
            ]
    skipped = pd.DataFrame(
        [{"dataset": ctx.dataset.name, "clip_id": c, "reason": r} for c, r in features.skipped.items()],
        columns=["dataset", "clip_id", "reason"],
    )
    return {
        "clips": pd.DataFrame(clips),
        "clip_values": pd.DataFrame(values),
        "clip_features": music_feature_rows(ctx),
        "skipped_clips": skipped,
        **media_rows(ctx),
        "reference_figures": reference_rows(reference_csv),
    }


def music_feature_rows(ctx: RunContext) -> pd.DataFrame:
    """Estimated descriptors, chords, key and key-relative features of every usable clip."""
    features = ctx.features()
    frames = []
    for source, names in MUSIC_FEATURES.items():
        if source not in features.arrays:
            continue
        values = features.arrays[source]
        frames.append(
            pd.DataFrame(
                {
                    "dataset": ctx.dataset.name,
                    "clip_id": np.repeat(np.asarray(features.clip_ids, dtype=object), len(names)),
                    "source": source,
                    "seed": 0,
                    "name": np.tile(np.asarray(names, dtype=object), len(features.clip_ids)),
                    "value": values.reshape(-1).astype(np.float64),
                }
            )
        )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def media_rows(ctx: RunContext) -> dict[str, pd.DataFrame]:
    """Return the ViT input image and the encoded original audio of every usable test clip."""
    features = ctx.features()
    test = ctx.split_index("test")
    images, audio = [], []
    progress = bar(total=len(test), desc="test-clip media", unit="clip", leave=False, enabled=ctx.show_progress)
    for index in test:
        clip_id = features.clip_ids[index]
        image = features.arrays["vit_spectrogram"][index]
        images.append(
            {
                "dataset": ctx.dataset.name,
                "clip_id": clip_id,
                "kind": "vit_spectrogram",
                "height": VIT_SIZE,
                "width": VIT_SIZE,
                "max_hz": SAMPLE_RATE / 2,
                "seconds": ctx.clip_seconds,
                "data": encode_array(image),
            }
        )
        audio.append(
            {
                "dataset": ctx.dataset.name,
                "clip_id": clip_id,
                "format": AUDIO_FORMAT,
                "sample_rate": SAMPLE_RATE,
                "data": encode_stored_audio(ctx.waveform(clip_id)),
            }
        )
        progress.update(1)
    progress.close()
    return {"images": pd.DataFrame(images), "audio_originals": pd.DataFrame(audio)}


def reference_rows(path: Path | None) -> pd.DataFrame:
    """Read the thesis's reported figures (``thesis-figures.csv``), labelled with their source."""
    if path is None or not path.is_file():
        return pd.DataFrame()
    frame = pd.read_csv(path, dtype={"table": str, "feature_set": str})
    missing = set(REFERENCE_COLUMNS) - set(frame.columns)
    if missing:
        raise ValueError(f"{path}: missing columns {sorted(missing)}")
    frame = frame.rename(columns={"table": "table_ref"})
    for column in ("table_ref", "route", "input", "head", "feature_set", "target", "metric", "note"):
        frame[column] = frame[column].fillna("").astype(str)
    frame["seeds"] = frame["seeds"].astype("Int64")
    frame.insert(0, "source", "thesis (Explainability Methods in MER, 2025)")
    return frame.replace({np.nan: None})
