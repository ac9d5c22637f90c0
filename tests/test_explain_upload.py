"""Limits and errors of the upload path (dashboard/explain_upload.py), without Streamlit."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
import soundfile as sf

from dashboard.explain_upload import MAX_UPLOAD_MB, UploadError, check_upload, decode_upload


def wav(seconds: float, rate: int = 16_000) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, 0.1 * np.ones(int(seconds * rate)), rate, format="WAV")
    return buffer.getvalue()


@pytest.mark.parametrize("name, size, reason", [
    ("clip.exe", 10, "unsupported file type 'exe'"),
    ("clip", 10, "unsupported file type '(none)'"),
    ("clip.wav", 0, "the file is empty"),
    ("clip.wav", MAX_UPLOAD_MB * 1024 * 1024 + 1, f"over the {MAX_UPLOAD_MB} MB limit"),
])
def test_uploads_are_checked_by_type_and_size_first(name, size, reason):
    with pytest.raises(UploadError, match=re.escape(reason)) as error:
        check_upload(name, size)
    assert str(error.value).startswith(f"{name}:") and "\n" not in str(error.value)


def test_decoding_pads_short_uploads_and_names_the_upload_in_errors():
    y = decode_upload("short.WAV", wav(1.0), clip_seconds=3.0)
    assert y.shape == (3 * 22_050,) and y.dtype == np.float32 and np.isfinite(y).all()
    with pytest.raises(UploadError, match=r"^garbage\.wav: ") as error:
        decode_upload("garbage.wav", b"RIFF" + bytes(200), clip_seconds=3.0)
    assert "/tmp" not in str(error.value)  # the temporary path is an implementation detail
    with pytest.raises(UploadError, match="^short.wav: offset 5 s is past the end"):
        decode_upload("short.wav", wav(1.0), clip_seconds=3.0, offset_s=5.0)
