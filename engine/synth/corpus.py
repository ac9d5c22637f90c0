"""The plan of a synthetic corpus: songs, clips, factors, emotions, labels, splits, the confound.

Corpus
------
``plan_corpus(SyntheticConfig(...))`` plans ``n_songs`` songs of ``clips_per_song`` clips before
any audio exists; :class:`engine.datasets.synthetic.SyntheticCorpus` serves them as a dataset.
Clip ``"s007c2"`` is clip 2 of song ``"s007"`` (its ``group``). Splits are assigned per song
(stratified by the song's majority label), so no song straddles train/val/test. Clips of a song
share key, mode, tempo, instrument timbres, chord-progression preferences and a melodic motif;
their descriptor factors are the song's values plus a small jitter (SD 0.05, clipped to [0, 1]).
Song descriptors and tempi are drawn by Latin hypercube sampling, so that even a small corpus
covers every factor's range evenly (and is close to balanced between Happy and Sad).

Everything derives deterministically from ``config.seed`` and the clip id, each song and clip
drawing from its own streams (see :mod:`engine.synth.common`).

The confound
------------
Real soundtrack data taught the thesis's model "steady drums mean Happy". To reproduce that bias,
percussion is drawn per song *after* labels and splits: for a song in the TRAIN split, with
probability ``confound`` its percussion is drawn high (0.6 to 1.0: loud, steady drums) if the
song is Happy and low (0 to 0.3, often no drums) if it is Sad; otherwise, and for every val and
test song, percussion is uniform on [0, 1] independently of the label. With ``confound=0``
percussion is independent of the label everywhere. Since percussion never enters the happy or
sad ratings, a model that leans on drums is wrong on held-out clips, and an explanation method
should be able to show it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from engine.synth.common import _CLIP_FACTORS, _NS_CORPUS, _PERCUSSION, _SONG_FACTORS, _SPLIT, _rng
from engine.synth.emotions import emotion_ratings, label_of
from engine.vocabulary import CLASSES, EMOTIONS, MIDLEVEL, SAMPLE_RATE, SPLITS

TEMPO_RANGE: tuple[float, float] = (60.0, 160.0)
"""Range (BPM) of song tempi in the corpus."""

_CLIP_JITTER_SD = 0.05
_PERCUSSION_JITTER_SD = 0.03


@dataclass(frozen=True, kw_only=True)
class SyntheticConfig:
    """Set the size, randomness and bias of a synthetic corpus.

    Attributes
    ----------
    n_songs : int, default 40
        Number of songs (groups); at least 3 so that every split gets one.
    clips_per_song : int, default 4
        Clips per song, at least 1.
    clip_seconds : float, default 10.0
        Clip length in seconds.
    sample_rate : int, default SAMPLE_RATE
        Sample rate of the rendered audio in Hz, at least 8000.
    seed : int, default 0
        Non-negative integer from which everything is derived.
    confound : float, default 0.8
        Strength in [0, 1] of the train-only percussion/Happy association.
    split_fractions : tuple of float, default (0.6, 0.2, 0.2)
        (train, val, test) shares of songs, each positive, summing to 1.
    emotion_noise : float, default 0.25
        SD of rating noise at mid-scale, in rating points (1 to 7.83 scale).

    Raises
    ------
    ValueError
        A setting out of range.

    Examples
    --------
    >>> config = SyntheticConfig(n_songs=6, clips_per_song=2, clip_seconds=1.0)
    >>> config.sample_rate, config.confound
    (22050, 0.8)
    >>> SyntheticConfig(n_songs=2)
    Traceback (most recent call last):
    ...
    ValueError: n_songs must be at least 3, got 2
    """

    n_songs: int = 40
    clips_per_song: int = 4
    clip_seconds: float = 10.0
    sample_rate: int = SAMPLE_RATE
    seed: int = 0
    confound: float = 0.8
    split_fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)
    emotion_noise: float = 0.25

    def __post_init__(self) -> None:
        """Check every setting's range."""
        if self.n_songs < len(SPLITS):
            raise ValueError(f"n_songs must be at least {len(SPLITS)}, got {self.n_songs}")
        if self.clips_per_song < 1:
            raise ValueError(f"clips_per_song must be positive, got {self.clips_per_song}")
        if not self.clip_seconds > 0:
            raise ValueError(f"clip_seconds must be positive, got {self.clip_seconds}")
        if self.sample_rate < 8000:
            raise ValueError(f"sample_rate must be at least 8000 Hz, got {self.sample_rate}")
        if self.seed < 0:
            raise ValueError(f"seed must be non-negative, got {self.seed}")
        if not 0.0 <= self.confound <= 1.0:
            raise ValueError(f"confound must lie in [0, 1], got {self.confound}")
        shares = tuple(self.split_fractions)
        if len(shares) != len(SPLITS) or min(shares) <= 0 or abs(sum(shares) - 1) > 1e-6:
            raise ValueError(f"split_fractions must be 3 positive shares summing to 1: {shares}")
        if self.emotion_noise < 0:
            raise ValueError(f"emotion_noise must be non-negative, got {self.emotion_noise}")


@dataclass(frozen=True)
class ClipPlan:
    """Record everything decided about one clip before rendering (immutable).

    Attributes
    ----------
    clip_id : str
        ``"s007c2"`` for clip 2 of song 7.
    group : str
        The song, e.g. ``"s007"``.
    song : int
        Song index, from 0.
    clip : int
        Clip index within the song, from 0.
    split : str
        ``"train"``, ``"val"`` or ``"test"`` (the song's).
    midlevel : tuple of (str, float)
        The 7 descriptor factors in [0, 1], in ``MIDLEVEL`` order.
    tempo_bpm : float
        The song's tempo, in BPM.
    key_root : int
        Pitch class of the key at the start of the clip (0 = C).
    mode : int
        0 major, 1 minor (from the song's minorness).
    percussion : float
        Drum loudness and steadiness in [0, 1].
    emotions : tuple of (str, float)
        The 8 emotion ratings (1 to 7.83), in ``EMOTIONS`` order.
    label : str
        ``"happy"`` or ``"sad"``.

    Examples
    --------
    >>> plan = plan_corpus(SyntheticConfig(n_songs=3, clips_per_song=1))[0]
    >>> plan.clip_id, plan.group, plan.label
    ('s000c0', 's000', 'sad')
    >>> len(plan.factors())
    11
    """

    clip_id: str
    group: str
    song: int
    clip: int
    split: str
    midlevel: tuple[tuple[str, float], ...]
    tempo_bpm: float
    key_root: int
    mode: int
    percussion: float
    emotions: tuple[tuple[str, float], ...]
    label: str

    def non_descriptor_factors(self) -> dict[str, float]:
        """Return the factors that are not mid-level descriptors.

        Returns
        -------
        dict of str to float
            ``tempo_bpm``, ``key_root``, ``mode`` and ``percussion``, as floats.
        """
        return {
            "tempo_bpm": self.tempo_bpm,
            "key_root": float(self.key_root),
            "mode": float(self.mode),
            "percussion": self.percussion,
        }

    def factors(self) -> dict[str, float]:
        """Return all the factors :func:`engine.synth.render.render_factors` needs.

        Returns
        -------
        dict of str to float
            The 7 descriptors, then ``tempo_bpm``, ``key_root``, ``mode`` and ``percussion``.
        """
        return {**dict(self.midlevel), **self.non_descriptor_factors()}


@dataclass(frozen=True)
class _ClipDraw:
    """A clip's random draws taken before labels, splits and percussion exist."""

    midlevel: dict[str, float]
    noise: np.ndarray  # (8,) standard-normal emotion noise
    percussion_jitter: float
    happy_margin: float  # happy minus sad rating; percussion plays no part in either


def _latin_hypercube(n: int, dims: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points in ``[0, 1)^dims``, shape ``(n, dims)``: one per 1/n stratum of every axis."""
    strata = np.stack([rng.permutation(n) for _ in range(dims)], axis=1)
    return (strata + rng.random((n, dims))) / n


def _split_counts(n_songs: int, fractions: Sequence[float]) -> list[int]:
    """Songs per split: largest-remainder rounding, then at least one song in every split."""
    raw = np.asarray(fractions) * n_songs
    counts = np.floor(raw).astype(int)
    for index in np.argsort(-(raw - counts), kind="stable")[: n_songs - counts.sum()]:
        counts[index] += 1
    for index in range(len(counts)):
        if counts[index] == 0:
            counts[int(np.argmax(counts))] -= 1
            counts[index] = 1
    return counts.tolist()


def _assign_song_splits(
    song_labels: Sequence[str], fractions: Sequence[float], rng: np.random.Generator
) -> list[str]:
    """Split of each song, stratified by label.

    Each label's songs are spread evenly over [0, 1) in random order; cutting the merged order
    into consecutive runs then gives every split about its share of each label.
    """
    keys = np.zeros(len(song_labels))
    for label in CLASSES:
        members = np.flatnonzero(np.asarray(song_labels) == label)
        if members.size:
            keys[members] = (rng.permutation(members.size) + rng.random()) / members.size
    order = np.argsort(keys, kind="stable")
    splits = [""] * len(song_labels)
    bounds = np.cumsum([0, *_split_counts(len(song_labels), fractions)])
    for split, lo, hi in zip(SPLITS, bounds[:-1], bounds[1:]):
        for song in order[lo:hi]:
            splits[int(song)] = split
    return splits


def _song_percussion(
    *, happy: bool, split: str, confound: float, rng: np.random.Generator
) -> float:
    """Draw a song's percussion: tied to the label with probability ``confound``, in train only."""
    tied, high, low, free = rng.random(4)  # always four draws, so streams never shift
    if split == "train" and tied < confound:
        return float(0.6 + 0.4 * high) if happy else float(0.3 * low)
    return float(free)


def _is_happy_song(draws: Sequence[_ClipDraw]) -> bool:
    """Majority label of a song's clips; a tie goes to the mean happy-minus-sad margin."""
    margins = np.asarray([draw.happy_margin for draw in draws])
    votes = int(np.sum(margins > 0)) - int(np.sum(margins <= 0))
    return votes > 0 or (votes == 0 and float(margins.mean()) > 0)


def plan_corpus(config: SyntheticConfig) -> list[ClipPlan]:
    """Plan a corpus: factors, then labels, then splits, then percussion (see the module docstring).

    Parameters
    ----------
    config : SyntheticConfig
        Size, seed and bias of the corpus.

    Returns
    -------
    list of ClipPlan
        ``config.n_songs * config.clips_per_song`` plans, song by song and clip by clip.

    Examples
    --------
    >>> plans = plan_corpus(SyntheticConfig(n_songs=6, clips_per_song=2))
    >>> len(plans), plans[0].clip_id, plans[-1].clip_id
    (12, 's000c0', 's005c1')
    >>> sorted({plan.split for plan in plans}), {plan.label for plan in plans} == {"happy", "sad"}
    (['test', 'train', 'val'], True)
    >>> all(plan.split == plans[0].split for plan in plans[:2])
    True
    """
    songs = range(config.n_songs)
    # Latin hypercube over songs: each descriptor and the tempo cover their range evenly,
    # which keeps small corpora balanced between Happy and Sad.
    n_descriptors = len(MIDLEVEL)
    strata = _latin_hypercube(
        config.n_songs, n_descriptors + 2, _rng(_NS_CORPUS, (config.seed,), _SONG_FACTORS)
    )
    low_bpm, high_bpm = TEMPO_RANGE
    tempi = low_bpm + (high_bpm - low_bpm) * strata[:, n_descriptors]
    keys = (12 * strata[:, n_descriptors + 1]).astype(int)
    happy_sad = [EMOTIONS.index("happy"), EMOTIONS.index("sad")]

    draws: dict[int, list[_ClipDraw]] = {}
    for song in songs:
        draws[song] = []
        for clip in range(config.clips_per_song):
            rng = _rng(_NS_CORPUS, (config.seed, song, clip), _CLIP_FACTORS)
            jitter = _CLIP_JITTER_SD * rng.standard_normal(n_descriptors)
            values = np.clip(strata[song, :n_descriptors] + jitter, 0.0, 1.0)
            midlevel = dict(zip(MIDLEVEL, values.tolist()))
            noise = rng.standard_normal(len(EMOTIONS))
            percussion_jitter = float(_PERCUSSION_JITTER_SD * rng.standard_normal())
            # Percussion does not drive happy or sad, so the label is known before it is drawn.
            ratings = emotion_ratings(
                {**midlevel, "tempo_bpm": tempi[song]},
                noise=noise[happy_sad],
                noise_sd=config.emotion_noise,
                emotions=("happy", "sad"),
            )
            margin = ratings["happy"] - ratings["sad"]
            draws[song].append(_ClipDraw(midlevel, noise, percussion_jitter, margin))

    song_happy = [_is_happy_song(draws[song]) for song in songs]
    splits = _assign_song_splits(
        [CLASSES[0] if happy else CLASSES[1] for happy in song_happy],
        config.split_fractions,
        _rng(_NS_CORPUS, (config.seed,), _SPLIT),
    )

    width = max(3, len(str(config.n_songs - 1)))
    plans = []
    for song in songs:
        group = f"s{song:0{width}d}"
        song_percussion = _song_percussion(
            happy=song_happy[song],
            split=splits[song],
            confound=config.confound,
            rng=_rng(_NS_CORPUS, (config.seed, song), _PERCUSSION),
        )
        for clip, draw in enumerate(draws[song]):
            percussion = min(max(song_percussion + draw.percussion_jitter, 0.0), 1.0)
            emotions = emotion_ratings(
                {**draw.midlevel, "tempo_bpm": tempi[song], "percussion": percussion},
                noise=draw.noise,
                noise_sd=config.emotion_noise,
            )
            plans.append(
                ClipPlan(
                    clip_id=f"{group}c{clip}",
                    group=group,
                    song=song,
                    clip=clip,
                    split=splits[song],
                    midlevel=tuple(draw.midlevel.items()),
                    tempo_bpm=float(tempi[song]),
                    key_root=int(keys[song]),
                    # The song's mode follows the song's minorness, not the clip's jittered one.
                    mode=int(strata[song, MIDLEVEL.index("minorness")] > 0.5),
                    percussion=percussion,
                    emotions=tuple(emotions.items()),
                    label=label_of(emotions),
                )
            )
    return plans


__all__ = ["TEMPO_RANGE", "ClipPlan", "SyntheticConfig", "plan_corpus"]
