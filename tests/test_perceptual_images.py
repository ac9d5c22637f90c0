"""The perceptual route's input images.

A known tone lands on its row in both, and relevance on the log image reaches the display grid at
the same frequency.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine.audio.perceptual_images import (
    IMAGES,
    check_image,
    display_rows_of_log,
    image_input,
    image_magnitude,
    to_display,
)
from engine.audio.representations import VIT_N_FFT, VIT_SIZE
from engine.vocabulary import SAMPLE_RATE

SECONDS = 2.0


def tone(hz: float) -> np.ndarray:
    t = np.arange(int(SECONDS * SAMPLE_RATE)) / SAMPLE_RATE
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def display_row(hz: float) -> float:
    """Row of the linear display grid holding ``hz`` (inverse of the bilinear resize of 1600 bins)."""
    return (hz * VIT_N_FFT / SAMPLE_RATE + 0.5) * VIT_SIZE / (VIT_N_FFT // 2 + 1) - 0.5


@pytest.mark.parametrize("image", IMAGES)
def test_images_are_224_square_in_unit_range(image: str) -> None:
    x = image_input(tone(440.0), clip_seconds=SECONDS, image=image)
    magnitude = image_magnitude(tone(440.0), clip_seconds=SECONDS, image=image)
    assert x.shape == magnitude.shape == (VIT_SIZE, VIT_SIZE)
    assert x.dtype == np.float32 and 0.0 <= x.min() and x.max() <= 1.0
    assert (magnitude >= 0).all()


def test_a_tone_is_on_the_log_row_that_maps_to_its_display_row() -> None:
    for hz in (110.0, 440.0, 1760.0):
        log_row = int(np.argmax(image_magnitude(tone(hz), clip_seconds=SECONDS, image="log").mean(axis=1)))
        # the display row whose frequency is hz reads the log image at (about) the tone's row
        assert abs(np.interp(display_row(hz), np.arange(VIT_SIZE), display_rows_of_log()) - log_row) <= 2.0
        linear_row = int(np.argmax(image_magnitude(tone(hz), clip_seconds=SECONDS, image="linear").mean(axis=1)))
        assert abs(linear_row - display_row(hz)) <= 1.0


def test_log_image_spreads_the_low_octaves() -> None:
    """220-440 Hz covers about 29 log rows but about 4.5 linear rows: why the log image exists."""
    log_rows = np.interp([display_row(220.0), display_row(440.0)], np.arange(VIT_SIZE), display_rows_of_log())
    assert log_rows[1] - log_rows[0] > 25
    assert display_row(440.0) - display_row(220.0) < 5


def test_relevance_on_a_tone_row_lands_on_the_tone_in_display() -> None:
    hz = 880.0
    log_row = int(np.argmax(image_magnitude(tone(hz), clip_seconds=SECONDS, image="log").mean(axis=1)))
    relevance = np.zeros((VIT_SIZE, VIT_SIZE), dtype=np.float32)
    relevance[log_row] = 1.0
    shown = to_display(relevance, image="log")
    assert shown.shape == (VIT_SIZE, VIT_SIZE) and shown.dtype == np.float32
    assert abs(int(np.argmax(shown[:, 0])) - display_row(hz)) <= 1.5
    assert np.array_equal(to_display(relevance, image="linear"), relevance)


def test_unknown_image_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match=r"unknown perceptual image 'mel'.*linear.*log"):
        check_image("mel")


def test_a_log_image_model_is_explained_on_the_display_grid() -> None:
    """A CNN reading the log image is explained on the linear display image.

    The explanation's image is the linear display image, its maps sit on that grid, and its
    sonification has the clip's length.
    """
    import torch

    from engine.audio.representations import vit_spectrogram_input
    from engine.explain.perceptual import explain_waveform
    from engine.models.perceptual import create_perceptual_model

    torch.manual_seed(0)
    spec = {"backbone": "cnn", "num_classes": 2, "widths": [4] * 9, "dropout": 0.0, "image": "log"}
    model = create_perceptual_model(spec).eval()
    y = tone(440.0) + tone(660.0)
    result = explain_waveform(model, y, clip_seconds=SECONDS, methods=("gradient_x_input",), image="log")
    assert np.array_equal(result.image, vit_spectrogram_input(y, clip_seconds=SECONDS))
    relevance = result.relevance["gradient_x_input"]
    assert relevance.shape == (VIT_SIZE, VIT_SIZE) and np.isfinite(relevance).all() and np.abs(relevance).max() > 0
    assert result.sonified["gradient_x_input"].shape == y.shape
    assert abs(result.probabilities.sum() - 1.0) < 1e-5


def test_explained_clips_of_a_cell_come_from_different_songs():
    from precompute.stages.perceptual import most_confident_per_cell

    actual = np.zeros(6, dtype=int)
    predicted = np.zeros(6, dtype=int)
    confidence = np.array([0.99, 0.98, 0.97, 0.90, 0.80, 0.70])
    songs = ["a", "a", "a", "b", "c", "c"]
    assert most_confident_per_cell(actual, predicted, confidence, k=3) == [0, 1, 2]  # one song
    assert most_confident_per_cell(actual, predicted, confidence, k=3, groups=songs) == [0, 3, 4]  # three songs
    assert most_confident_per_cell(actual, predicted, confidence, k=4, groups=songs) == [0, 1, 3, 4]
