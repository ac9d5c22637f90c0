"""Sonification speed: how many times faster than real time is one 10 s clip re-synthesised?

    python benchmarks/bench_sonify.py [--seconds 10] [--repeats 20]

Prints the median time of the full path (STFT, gain, inverse STFT: what precompute does) and of the
path from a stored STFT (gain and inverse STFT only: what the dashboard does when the gain exponent
moves), with the real-time factor of each (target: at least 500x), and the dashboard's live path as
a listener sees it (decode the stored OGG clip and take its STFT once per clip, then per p: gain,
inverse STFT, loudness match and WAV encoding, for the sonified and the complement player).
"""

from __future__ import annotations

import argparse

import numpy as np

from dashboard import listening
from engine.audio.io import encode_audio
from engine.audio.representations import VIT_HOP, VIT_N_FFT
from engine.audio.sonify import sonify, sonify_spectrum
from engine.audio.stft import stft
from engine.datasets.base import SAMPLE_RATE
from timing import median_seconds  # benchmarks/timing.py (the script's folder is on sys.path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    y = (0.1 * rng.standard_normal(int(args.seconds * SAMPLE_RATE))).astype(np.float32)
    relevance = rng.random((224, 224)).astype(np.float32)
    spectrum = stft(y, n_fft=VIT_N_FFT, hop_length=VIT_HOP)
    stored = encode_audio(y)  # what the results database holds
    clip = listening.clip_spectrum(stored)
    cases = {
        "sonify (STFT + gain + iSTFT)": lambda: sonify(y, relevance, n_fft=VIT_N_FFT, hop_length=VIT_HOP),
        "sonify from stored STFT": lambda: sonify_spectrum(spectrum, relevance, reference=y, n_fft=VIT_N_FFT, hop_length=VIT_HOP),
        "  ... with 5-frame smoothing": lambda: sonify_spectrum(
            spectrum, relevance, reference=y, n_fft=VIT_N_FFT, hop_length=VIT_HOP, smooth_frames=5
        ),
        "dashboard: decode OGG + STFT": lambda: listening.clip_spectrum(stored),
        "dashboard: new p, both players": lambda: [listening.resonify(clip, relevance, power=1.5, complement=c)
                                                   for c in (False, True)],
    }
    print(f"{args.seconds:g} s of audio at {SAMPLE_RATE} Hz, n_fft {VIT_N_FFT}, hop {VIT_HOP}; median of {args.repeats}")
    for name, function in cases.items():
        seconds = median_seconds(function, args.repeats)
        print(f"{name:32s} {1000 * seconds:8.1f} ms   {args.seconds / seconds:8.0f}x real time")


if __name__ == "__main__":
    main()
