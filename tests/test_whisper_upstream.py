"""The Whisper encoder upstream on a tiny randomly initialised encoder (no download)."""

import s3prl_fusion  # noqa: F401  (makes torchaudio importable before transformers' audio models)
import pytest
import torch
from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperModel

from conftest import WHISPER_TINY_EN
from s3prl_fusion.upstreams.whisper import (
    WhisperEncoderUpstream,
    whisper_frame_count,
)
from s3prl_fusion.upstreams.whisper_sizes import WHISPER_SIZES

TINY_CONFIG = dict(
    d_model=64,
    encoder_layers=2,
    encoder_attention_heads=2,
    encoder_ffn_dim=128,
    decoder_layers=1,
    decoder_attention_heads=2,
    decoder_ffn_dim=128,
    num_mel_bins=80,
    max_source_positions=1500,
)
SECOND = 16000
WINDOW = 30 * SECOND


def make_upstream(length_mode: str) -> WhisperEncoderUpstream:
    torch.manual_seed(0)
    return WhisperEncoderUpstream(config=TINY_CONFIG, length_mode=length_mode).eval()


def make_wav(num_samples: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return 0.1 * torch.randn(num_samples, generator=generator)


@pytest.fixture(scope="module")
def exact():
    return make_upstream("exact")


@pytest.fixture(scope="module")
def pad30():
    return make_upstream("pad30")


def test_checkpoint_names_and_frame_count_formula():
    assert WHISPER_SIZES["small_en"].checkpoint == "openai/whisper-small.en"
    assert WHISPER_SIZES["large_v3"].checkpoint == "openai/whisper-large-v3"
    assert len(WHISPER_SIZES) == 11
    assert [whisper_frame_count(n) for n in (160, 319, 320, 479, 480, 16000, WINDOW)] == [1, 1, 1, 1, 2, 50, 1500]


@pytest.mark.skipif(not WHISPER_TINY_EN.is_dir(), reason="needs ../shared/models/whisper-tiny.en (a real pretrained checkpoint)")
def test_size_table_encoder_config_matches_a_real_checkpoint():
    real = WhisperConfig.from_pretrained(WHISPER_TINY_EN)
    table = WhisperConfig(**WHISPER_SIZES["tiny_en"].encoder_config())
    for key in ("d_model", "encoder_layers", "encoder_attention_heads", "encoder_ffn_dim", "num_mel_bins"):
        assert getattr(table, key) == getattr(real, key), key


def test_size_table_encoder_config_has_the_sizes_shape():
    for size in WHISPER_SIZES.values():
        config = WhisperConfig(**size.encoder_config())
        assert (config.encoder_layers + 1, config.d_model) == (size.hidden_states, size.dim)
        assert config.d_model % config.encoder_attention_heads == 0


def test_sizes_and_downsample_rate(exact):
    assert exact.num_hidden_states == 3
    assert exact.hidden_size == 64
    assert exact.get_downsample_rates("hidden_states") == 320


@pytest.mark.parametrize("num_samples", [161, 16000, 33333, WINDOW - 10, WINDOW])
def test_exact_log_mel_equals_official_processor_features(exact, num_samples):
    wav = make_wav(num_samples, seed=1)
    official = WhisperFeatureExtractor(feature_size=80)(wav.numpy(), sampling_rate=SECOND, return_tensors="pt")
    mel, mel_lengths = exact._log_mel_of_windows([wav])
    assert mel_lengths.tolist() == [num_samples // 160]
    torch.testing.assert_close(mel, official.input_features[..., : num_samples // 160], atol=1e-5, rtol=0)


def test_pad30_hidden_states_equal_hugging_face_encoder_cropped(pad30):
    lengths = [2 * SECOND + 123, 5 * SECOND]
    wavs = [make_wav(n, seed=i) for i, n in enumerate(lengths)]
    features = WhisperFeatureExtractor(feature_size=80)(
        [wav.numpy() for wav in wavs], sampling_rate=SECOND, return_tensors="pt"
    ).input_features
    with torch.no_grad():
        reference = pad30.encoder(features, output_hidden_states=True).hidden_states
    outputs = pad30(wavs)
    assert len(reference) == len(outputs["hidden_states"]) == 3
    for ours, theirs in zip(outputs["hidden_states"], reference):
        for row, n in enumerate(lengths):
            frames = whisper_frame_count(n)
            torch.testing.assert_close(ours[row, :frames], theirs[row, :frames], atol=1e-5, rtol=0)
    torch.testing.assert_close(outputs["last_hidden_state"], outputs["hidden_states"][-1])


@pytest.mark.parametrize("length_mode", ["exact", "pad30"])
def test_hidden_state_count_and_frame_counts(length_mode, exact, pad30):
    upstream = exact if length_mode == "exact" else pad30
    lengths = [160, 321, 16000, 16001, 33333]
    outputs = upstream([make_wav(n, seed=i) for i, n in enumerate(lengths)])
    expected = [whisper_frame_count(n) for n in lengths]
    assert outputs["feature_lengths"].dtype == torch.long
    assert outputs["feature_lengths"].tolist() == expected
    assert len(outputs["hidden_states"]) == upstream.num_hidden_states
    for hidden in outputs["hidden_states"]:
        assert hidden.shape == (len(lengths), max(expected), 64)
        for row, frames in enumerate(expected):
            assert torch.all(hidden[row, frames:] == 0)
            assert hidden[row, :frames].abs().sum() > 0


@pytest.mark.parametrize("length_mode", ["exact", "pad30"])
def test_batched_utterances_get_what_they_get_alone(length_mode, exact, pad30):
    upstream = exact if length_mode == "exact" else pad30
    wavs = [make_wav(n, seed=i) for i, n in enumerate([8000, 23456, 2 * SECOND + 77, 161])]
    batched = upstream(wavs)
    for row, wav in enumerate(wavs):
        alone = upstream([wav])
        frames = int(alone["feature_lengths"][0])
        assert int(batched["feature_lengths"][row]) == frames
        for batch_layer, alone_layer in zip(batched["hidden_states"], alone["hidden_states"]):
            torch.testing.assert_close(batch_layer[row, :frames], alone_layer[0], atol=1e-4, rtol=0)


def test_exact_and_pad30_differ_but_stay_finite(exact, pad30):
    wav = make_wav(2 * SECOND, seed=3)
    exact_states = exact([wav])["hidden_states"]
    pad30_states = pad30([wav])["hidden_states"]
    for exact_layer, pad30_layer in zip(exact_states, pad30_states):
        assert exact_layer.shape == pad30_layer.shape == (1, 100, 64)
        assert torch.isfinite(exact_layer).all() and torch.isfinite(pad30_layer).all()
    # The convolutions see the same mel frames except past the end, so only the last
    # embedding frame differs; self-attention over 30 s of padding moves every later layer.
    torch.testing.assert_close(exact_states[0][:, :-1], pad30_states[0][:, :-1], atol=1e-5, rtol=0)
    assert not torch.allclose(exact_states[0][:, -1], pad30_states[0][:, -1], atol=1e-3)
    for exact_layer, pad30_layer in zip(exact_states[1:], pad30_states[1:]):
        assert not torch.allclose(exact_layer, pad30_layer, atol=1e-3)


@pytest.mark.parametrize("length_mode", ["exact", "pad30"])
def test_input_over_30_seconds_is_windowed_not_truncated(length_mode, exact, pad30):
    upstream = exact if length_mode == "exact" else pad30
    long_wav = make_wav(65 * SECOND, seed=4)
    outputs = upstream([long_wav, make_wav(SECOND, seed=5)])
    assert outputs["feature_lengths"].tolist() == [3250, 50]
    assert whisper_frame_count(65 * SECOND) == 3250
    first_window = upstream([long_wav[:WINDOW]])["hidden_states"][-1][0]
    last_window = upstream([long_wav[2 * WINDOW :]])["hidden_states"][-1][0]
    last_layer = outputs["hidden_states"][-1][0]
    torch.testing.assert_close(last_layer[:1500], first_window, atol=1e-4, rtol=0)
    torch.testing.assert_close(last_layer[3000:], last_window, atol=1e-4, rtol=0)


@pytest.mark.parametrize("tail_samples, expected_frames", [(100, 1500), (200, 1501)])
def test_tail_window_shorter_than_a_mel_frame_adds_no_frame(exact, tail_samples, expected_frames):
    outputs = exact([make_wav(WINDOW + tail_samples, seed=6)])
    assert outputs["feature_lengths"].tolist() == [expected_frames]
    assert outputs["hidden_states"][0].shape == (1, expected_frames, 64)


@pytest.mark.parametrize("save_feature_extractor", [True, False])
def test_loading_a_saved_model_by_path_reproduces_the_in_memory_model(tmp_path, exact, save_feature_extractor):
    model = WhisperModel(WhisperConfig(**TINY_CONFIG))
    model.encoder.load_state_dict(exact.encoder.state_dict())
    model.save_pretrained(tmp_path)
    if save_feature_extractor:
        WhisperFeatureExtractor(feature_size=80).save_pretrained(tmp_path)
    loaded = WhisperEncoderUpstream(source=str(tmp_path), length_mode="exact").eval()
    wavs = [make_wav(SECOND, seed=7), make_wav(3 * SECOND, seed=8)]
    expected, actual = exact(wavs), loaded(wavs)
    for expected_layer, actual_layer in zip(expected["hidden_states"], actual["hidden_states"]):
        torch.testing.assert_close(actual_layer, expected_layer, atol=1e-6, rtol=0)
    assert actual["feature_lengths"].tolist() == expected["feature_lengths"].tolist()


def test_eval_mode_builds_no_graph_and_train_mode_trains():
    upstream = make_upstream("exact")
    wavs = [make_wav(SECOND, seed=9), make_wav(SECOND // 2, seed=10)]
    with torch.enable_grad():
        frozen = upstream(wavs)
    assert not any(hidden.requires_grad for hidden in frozen["hidden_states"])

    upstream.train()
    trained = upstream(wavs)
    assert all(hidden.requires_grad for hidden in trained["hidden_states"])
    sum(hidden.pow(2).mean() for hidden in trained["hidden_states"]).backward()
    for parameter in (upstream.encoder.conv1.weight, upstream.encoder.layers[0].self_attn.q_proj.weight):
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0


def test_too_short_utterance_names_index_length_and_minimum(exact):
    with pytest.raises(ValueError, match=r"utterance 1 has 159 samples.*at least 160 samples"):
        exact([make_wav(SECOND, seed=11), make_wav(159, seed=12)])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(config=TINY_CONFIG, length_mode="pad"), "length_mode must be 'exact' or 'pad30'"),
        (dict(), "pass exactly one of source="),
        (dict(source="openai/whisper-tiny", config=TINY_CONFIG), "pass exactly one of source="),
    ],
)
def test_bad_arguments_say_what_to_pass(kwargs, message):
    with pytest.raises(ValueError, match=message):
        WhisperEncoderUpstream(**kwargs)
