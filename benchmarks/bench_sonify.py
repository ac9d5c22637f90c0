"""Sonification speed: how many times faster than real time one 10 s clip is re-synthesised.

    python benchmarks/bench_sonify.py [--seconds 10] [--repeats 20] [--db data/demo.duckdb]

Prints the median time of the full path (STFT, gain, inverse STFT: what precompute does) and of the
path from a stored STFT (gain and inverse STFT only: what the dashboard does when the gain exponent
moves), with the real-time factor of each (target: at least 500x), and the dashboard's live path as
a listener sees it (decode the stored OGG clip and take its STFT once per clip, then per p: gain,
inverse STFT, loudness match and WAV encoding, for the sonified and the complement player).

With ``--db``, also the fidelity of that live path on a results database: the live path starts from
the stored (lossy, OGG) original, the precomputed sonifications from the decoded waveform. For every
stored map of the first ViT model and seed, the live sonification at p = 2 is compared with the
precomputed one at the same gain (itself stored as OGG): signal-to-difference ratio
``10 log10(sum(a^2) / sum((a - b)^2))`` in dB, for the sonified and the complement variant. As the
reference for what the OGG codec alone does, the same ratio between each live sonification and its own
OGG round trip (``encode_audio`` then ``decode_audio``, as the precompute engine stores audio).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from timing import median_seconds  # benchmarks/timing.py (the script's folder is on sys.path)

from dashboard import listening
from engine.audio.io import decode_audio, encode_audio
from engine.audio.representations import VIT_HOP, VIT_N_FFT
from engine.audio.sonify import sonify
from engine.audio.stft import stft
from engine.vocabulary import SAMPLE_RATE
from results.store import connect_read_only


def main() -> None:
    """Time each sonification path and print its real-time factor (and, with ``--db``, the live path's fidelity)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--db", type=Path, help="results database: also measure the live path's fidelity on it")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    y = (0.1 * rng.standard_normal(int(args.seconds * SAMPLE_RATE))).astype(np.float32)
    relevance = rng.random((224, 224)).astype(np.float32)
    spectrum = stft(y, n_fft=VIT_N_FFT, hop_length=VIT_HOP)
    stored = encode_audio(y)  # what the results database holds
    clip = listening.clip_spectrum(stored)
    cases = {
        "sonify (STFT + gain + iSTFT)": lambda: sonify(y, relevance, n_fft=VIT_N_FFT, hop_length=VIT_HOP),
        "sonify from stored STFT": lambda: sonify(y, relevance, S=spectrum, n_fft=VIT_N_FFT, hop_length=VIT_HOP),
        "  ... with 5-frame smoothing": lambda: sonify(y, relevance, S=spectrum, n_fft=VIT_N_FFT, hop_length=VIT_HOP, smooth_frames=5),
        "dashboard: decode OGG + STFT": lambda: listening.clip_spectrum(stored),
        "dashboard: new p, both players": lambda: [listening.resonify(clip, relevance, power=1.5, complement=c)
                                                   for c in (False, True)],
    }
    print(f"{args.seconds:g} s of audio at {SAMPLE_RATE} Hz, n_fft {VIT_N_FFT}, hop {VIT_HOP}; median of {args.repeats}")
    for name, function in cases.items():
        seconds = median_seconds(function, args.repeats)
        print(f"{name:32s} {1000 * seconds:8.1f} ms   {args.seconds / seconds:8.0f}x real time")

    if args.db is not None:
        live_fidelity(args.db)


def signal_to_difference_db(reference: np.ndarray, other: np.ndarray) -> float:
    """``10 log10(sum(reference^2) / sum((reference - other)^2))`` over the common length, in dB."""
    n = min(len(reference), len(other))
    difference = float(np.sum((reference[:n] - other[:n]) ** 2))
    return float("inf") if difference == 0 else 10 * np.log10(float(np.sum(reference[:n] ** 2)) / difference)


def live_fidelity(db: Path) -> None:
    """Print how far the live p = 2 sonifications are from the precomputed ones (see the docstring)."""
    from dashboard import queries

    con = connect_read_only(db)
    model = queries.default_vit(con)
    if model is None:
        print(f"{db}: no ViT model, no fidelity figure")
        return
    experiment, dataset, seed = model
    stored = queries.stored_model(con, experiment)
    gain = stored.plain_gain(power=2.0) if stored is not None else None
    if gain is None:
        print(f"{db}: p = 2 was not precomputed, no fidelity figure")
        return
    ratios: dict[str, list[float]] = {"sonified": [], "complement": []}
    codec: dict[str, list[float]] = {"sonified": [], "complement": []}
    for clip_id in queries.explained_clips(con, experiment, seed=seed):
        clip = listening.clip_spectrum(queries.original_audio(con, dataset=dataset, clip_id=clip_id))
        for method in queries.relevance_methods(con, experiment):
            stored = queries.relevance_map(con, experiment, seed=seed, clip_id=clip_id, method=method)
            if stored is None:
                continue
            for variant in ratios:
                precomputed = queries.sonified_audio(con, experiment, seed=seed, clip_id=clip_id, method=method, gain=gain,
                                                     variant=variant)
                if precomputed is None:
                    continue
                live, rate = decode_audio(listening.resonify(clip, stored[0], power=2.0, complement=variant == "complement"))
                ratios[variant].append(signal_to_difference_db(decode_audio(precomputed)[0], live))
                codec[variant].append(signal_to_difference_db(live, decode_audio(encode_audio(live, sample_rate=rate))[0]))
    con.close()
    print()
    print(f"live p = 2 against precomputed ({gain}) on {db.name}, {experiment} seed {seed}: signal-to-difference, dB")
    for label, table in (("live vs precomputed", ratios), ("live vs its own OGG round trip (the codec alone)", codec)):
        print(f" {label}")
        for variant, values in table.items():
            if values:
                print(f"  {variant:<11} n {len(values):>4}   median {np.median(values):6.1f}   5th pct "
                      f"{np.percentile(values, 5):6.1f}   min {min(values):6.1f}")


if __name__ == "__main__":
    main()
