"""Bad audio files give a clear message naming the file, or a documented handling."""
from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest
import soundfile
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ASR_CONFIGS, DEMO_UPSTREAM, LIBRISPEECH_MINI, run_python, user_error_line
from s3prl_fusion.audio.loading import AudioReadError, load, set_audio_policy
from s3prl_fusion.prepare.librispeech import write_length_tables
from s3prl_fusion.upstreams.input_checks import InvalidAudioError, check_waveforms, receptive_field


@pytest.fixture(autouse=True)
def default_policy():
    set_audio_policy(None)
    yield
    set_audio_policy(None)


def write(path, data, rate=16000, subtype="PCM_16"):
    soundfile.write(str(path), data, rate, subtype=subtype)
    return path


def test_wrong_rate_is_resampled_with_a_warning(tmp_path, caplog):
    path = write(tmp_path / "a.wav", np.sin(np.arange(8000) / 5) * 0.3, rate=8000)
    with caplog.at_level(logging.WARNING):
        waveform, rate = load(path)
    assert rate == 16000 and waveform.shape == (1, 16000)
    assert "a.wav is 8000 Hz: resampled" in caplog.text


def test_wrong_rate_refused_by_policy(tmp_path):
    path = write(tmp_path / "b.wav", np.zeros(800) + 0.1, rate=8000)
    set_audio_policy({"on_wrong_rate": "error"})
    with pytest.raises(AudioReadError, match=r"b\.wav is 8000 Hz.*on_wrong_rate"):
        load(path)


def test_stereo_downmixed_or_refused(tmp_path):
    stereo = np.stack([np.full(1600, 0.5), np.full(1600, -0.1)], axis=1)
    path = write(tmp_path / "s.wav", stereo)
    waveform, _ = load(path)
    assert waveform.shape == (1, 1600) and torch.allclose(waveform, torch.full((1, 1600), 0.2), atol=1e-4)
    set_audio_policy({"on_multichannel": "error"})
    with pytest.raises(AudioReadError, match=r"s\.wav has 2 channels.*on_multichannel"):
        load(path)


def test_empty_file_named(tmp_path):
    path = write(tmp_path / "empty.wav", np.zeros(0))
    with pytest.raises(AudioReadError, match=r"empty\.wav holds no samples"):
        load(path)


def test_nan_samples_named(tmp_path):
    data = np.full(400, 0.1, dtype=np.float32)
    data[17] = np.nan
    path = write(tmp_path / "nan.wav", data, subtype="FLOAT")
    with pytest.raises(AudioReadError, match=r"nan\.wav has NaN/Inf"):
        load(path)


def test_clipped_pcm_warns(tmp_path, caplog):
    path = write(tmp_path / "clip.wav", np.clip(np.sin(np.arange(4000) / 3) * 4, -1, 1))
    with caplog.at_level(logging.WARNING):
        load(path)
    assert "clip.wav" in caplog.text and "clipped PCM" in caplog.text


def test_truncated_file_named(tmp_path):
    path = write(tmp_path / "cut.wav", np.full(16000, 0.2))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioReadError, match=r"cut\.wav is truncated"):
        load(path)


def test_unknown_policy_key():
    with pytest.raises(ValueError, match="unknown audio setting"):
        set_audio_policy({"on_stereo": "downmix"})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.binary(min_size=0, max_size=600), keep_header=st.booleans())
def test_malformed_files_raise_audio_read_error(tmp_path, payload, keep_header):
    """Random bytes, with or without a valid WAV header in front, never escape as another error."""
    path = tmp_path / "fuzz.wav"
    header = b""
    if keep_header:
        write(path, np.full(64, 0.1))
        header = path.read_bytes()[:44]
    path.write_bytes(header + payload)
    try:
        waveform, rate = load(path)
    except AudioReadError as error:
        assert "fuzz.wav" in str(error)
    else:
        assert waveform.dim() == 2 and waveform.size(0) == 1 and rate == 16000 and torch.isfinite(waveform).all()


def test_upstream_door_names_the_utterance():
    with pytest.raises(InvalidAudioError, match="utterance 1 has 100 samples.*at least 400"):
        check_waveforms([torch.zeros(1000), torch.zeros(100)], 400, "fused upstream a+b")
    with pytest.raises(InvalidAudioError, match="utterance 0 has shape \\(2, 800\\).*downmix"):
        check_waveforms([torch.zeros(2, 800)], 400, "x")
    bad = torch.zeros(800)
    bad[3] = float("inf")
    with pytest.raises(InvalidAudioError, match="utterance 0 has 1 NaN/Inf"):
        check_waveforms([bad], 400, "x")


def test_wavlm_front_end_receptive_field_is_400_samples():
    assert receptive_field([10, 3, 3, 3, 3, 2, 2], [5, 2, 2, 2, 2, 2, 2]) == 400


def test_a_too_short_file_in_a_runner_batch_is_named_by_its_utterance(tmp_path):
    """s3prl's runner on a copy of the mini LibriSpeech in which one training file holds 200
    samples: the run stops with exit status 2 and the utterance's name, not its place in the batch."""
    corpus = tmp_path / "LibriSpeech"
    shutil.copytree(LIBRISPEECH_MINI, corpus)
    short = corpus / "train-clean-100" / "39" / "110229" / "39-110229-0007.flac"
    soundfile.write(str(short), np.random.default_rng(0).uniform(-0.1, 0.1, 200), 16000)
    buckets = tmp_path / "len_for_bucket"
    write_length_tables(corpus, buckets, ("train-clean-100",))
    overrides = f"config.downstream_expert.datarc.libri_root='{corpus}',,config.downstream_expert.datarc.bucket_file='{buckets}'"
    result = run_python(
        ["-m", "s3prl_fusion.run_downstream", "-m", "train", "-u", "fused", "-g", str(DEMO_UPSTREAM), "-s", "hconv", "-d", "asr",
         "-c", str(ASR_CONFIGS / "demo.yaml"), "-p", str(tmp_path / "exp"), "--device", "cpu", "-o", overrides],
        check=False,
    )
    message = user_error_line(result)
    assert ": utterance 39-110229-0007 (item 3 of the batch) has 200 samples" in message, message
    assert "(0.013 s); its members need at least 400 samples" in message
