"""The sox-free ``torchaudio.sox_effects`` stand-in against sox 14.4.2's semantics.

s3prl's sv_voxceleb1 chain: channels 1, rate 16000, gain -3.0, silence 1 0.1 0.1% -1 0.1 0.1%.
Silence uses a 20 ms RMS window (320 samples at 16 kHz): a loud sample keeps the next 319
samples "loud", and 0.1 s is 1600 samples.
"""
from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import soundfile
import torch

from conftest import REPO_ROOT
from s3prl_fusion.audio.sox_effects import apply_effects_file, apply_effects_tensor

S3PRL_EFFECTS = [["channels", "1"], ["rate", "16000"], ["gain", "-3.0"], ["silence", "1", "0.1", "0.1%", "-1", "0.1", "0.1%"]]
SILENCE = S3PRL_EFFECTS[-1:]
RATE = 16000
WINDOW_TAIL = 319  # samples after a loud one whose 20 ms RMS window still holds it
HOLD = 1600  # 0.1 s


def loud(samples: int) -> np.ndarray:
    return np.full(samples, 0.5)


def quiet(samples: int) -> np.ndarray:
    return np.zeros(samples)


def silence_removed_length(*parts: np.ndarray) -> int:
    waveform = torch.from_numpy(np.concatenate(parts)).float()[None]
    return apply_effects_tensor(waveform, RATE, SILENCE)[0].shape[1]


def test_leading_silence_is_dropped_and_the_loud_start_kept():
    assert silence_removed_length(quiet(5000), loud(3000)) == 3000


def test_all_silence_gives_empty_audio():
    assert silence_removed_length(quiet(20000)) == 0


def test_pause_shorter_than_duration_is_kept_whole():
    pause = WINDOW_TAIL + HOLD - 1
    assert silence_removed_length(loud(2000), quiet(pause), loud(2000)) == 2000 + pause + 2000


def test_pause_of_duration_or_more_is_cut_to_the_window_tail():
    for pause in (WINDOW_TAIL + HOLD, 3 * RATE):
        assert silence_removed_length(loud(2000), quiet(pause), loud(2000)) == 2000 + WINDOW_TAIL + 2000


def test_burst_shorter_than_duration_after_a_cut_pause_is_dropped():
    burst = HOLD - WINDOW_TAIL - 1
    assert silence_removed_length(loud(2000), quiet(RATE), loud(burst), quiet(RATE), loud(2000)) == 2000 + WINDOW_TAIL + 2000


def test_short_trailing_silence_is_kept():
    assert silence_removed_length(loud(2000), quiet(1000)) == 3000


def test_rms_window_not_peak_decides_loudness():
    rng = np.random.default_rng(0)
    sparse_clicks = np.zeros(RATE)
    sparse_clicks[::400] = 0.002  # peaks above 0.1 %, 20 ms RMS far below it
    assert silence_removed_length(sparse_clicks) == 0
    noise = rng.normal(0, 0.01, RATE)
    first_loud = int(np.argmax(np.sqrt(np.cumsum(noise**2) / (WINDOW_TAIL + 1)) > 0.001))  # the window starts empty
    assert 0 < first_loud < 20
    assert silence_removed_length(noise) == RATE - first_loud


def test_downmix_gain_and_layout():
    stereo = torch.tensor([[0.2, 0.4, -0.6], [0.4, 0.0, 0.2]])
    mono, rate = apply_effects_tensor(stereo, RATE, [["channels", "1"], ["gain", "-6.0"]])
    assert rate == RATE and mono.shape == (1, 3)
    torch.testing.assert_close(mono, stereo.mean(0, keepdim=True) * 10 ** (-6 / 20))
    frames_last, _ = apply_effects_tensor(stereo.T, RATE, [["channels", "1"]], channels_first=False)
    assert frames_last.shape == (3, 1)


def test_rate_resamples_and_reports_the_new_rate():
    waveform, rate = apply_effects_tensor(torch.randn(1, 8000), 8000, [["rate", "16000"]])
    assert rate == 16000 and abs(waveform.shape[1] - 16000) <= 1


def test_unsupported_effects_name_what_is_supported():
    with pytest.raises(ValueError, match="supported: channels 1, rate R, gain DB"):
        apply_effects_tensor(torch.zeros(1, 10), RATE, [["reverb", "50"]])
    with pytest.raises(ValueError, match="'gain -n -3'"):
        apply_effects_tensor(torch.zeros(1, 10), RATE, [["gain", "-n", "-3"]])
    with pytest.raises(ValueError, match="put 'channels 1' before it"):
        apply_effects_tensor(torch.zeros(2, 10), RATE, SILENCE)


def run_sox(path, effects) -> np.ndarray:
    result = subprocess.run(
        ["sox", str(path), "-t", "f32", "-e", "floating-point", "-"] + [value for effect in effects for value in effect],
        capture_output=True, check=True,
    )
    return np.frombuffer(result.stdout, dtype=np.float32)


@pytest.mark.skipif(shutil.which("sox") is None, reason="the sox command is not installed")
def test_s3prl_chain_matches_sox_on_corpus_and_synthetic_audio(tmp_path):
    rng = np.random.default_rng(1)
    files = sorted((REPO_ROOT / "corpora" / "VoxCeleb1" / "test" / "wav").rglob("*.wav"))[:4]
    for index in range(4):  # bursts of decaying tones between noise-floor pauses of random lengths
        parts = []
        for _ in range(6):
            parts.append(rng.normal(0, 5e-5, int(rng.integers(0, 5000))))
            length = int(rng.integers(200, 6000))
            parts.append(rng.uniform(0.001, 0.5) * np.sin(np.arange(length) * rng.uniform(0.04, 0.15)) * np.hanning(length))
        stereo = np.stack([np.concatenate(parts), rng.normal(0, 1e-4, sum(map(len, parts)))], axis=1)
        files.append(tmp_path / f"synthetic{index}.wav")
        soundfile.write(files[-1], stereo, RATE, subtype="PCM_16")
    for path in files:
        expected = run_sox(path, S3PRL_EFFECTS)
        waveform, rate = apply_effects_file(str(path), S3PRL_EFFECTS)
        assert rate == RATE and waveform.shape == (1, len(expected)), path
        np.testing.assert_allclose(waveform[0].numpy(), expected, atol=1e-4)
