"""The head's input for an utterance does not depend on the batch it is in: the featurizer crops
every utterance at its own valid frames (the members' lengths through the alignment), not at
``round(samples / downsample_rate)``, which for a 50 Hz SSL member is one frame of padding past
them. Every interface, on the fly and from a feature cache, at tiny and at base size; and s3prl's own
featurizer (``-s hidden_states``) over the plugin's fused upstream, as the runner builds it."""
from __future__ import annotations

import pytest
import torch
import yaml

from conftest import LIBRISPEECH_MINI
from s3prl_fusion.cache import CachedFusedUpstream
from s3prl_fusion.cache.sources import read_waveform
from s3prl_fusion.cli import main as cli_main
from s3prl_fusion.featurizer import FusionFeaturizer
from s3prl_fusion.interfaces import RunLength
from s3prl_fusion.upstreams.fused import FusedUpstream
from test_member_batch_invariance import BASE_WAVLM, SMALL, mixed_batch

INTERFACES = ("ws", "gumd", "hconv", "chconv")
SSL_MEMBERS = [
    {"name": "wavlm_tiny_random", "kind": "hf", "config": {"model_type": "wavlm", "num_buckets": 32, **SMALL}},
    {"name": "hubert_tiny_random", "kind": "hf", "config": {"model_type": "hubert", **SMALL}},
]


def head_inputs_alone_and_batched(upstream, interface: str, wavs: list[torch.Tensor]) -> tuple[list, list]:
    """(each utterance's featurizer output alone, the same utterances' outputs in one batch)."""
    torch.manual_seed(0)
    featurizer = FusionFeaturizer(upstream, interface, run=RunLength(10)).eval()
    with torch.no_grad():
        batched = featurizer(wavs, upstream(wavs))
        alone = [featurizer([wav], upstream([wav]))[0] for wav in wavs]
    return alone, batched


def assert_batch_independent(upstream, interface: str, wavs: list[torch.Tensor]) -> None:
    alone, batched = head_inputs_alone_and_batched(upstream, interface, wavs)
    for index, (single, in_batch) in enumerate(zip(alone, batched)):
        assert in_batch.shape == single.shape, f"utterance {index} ({wavs[index].numel()} samples): {interface}"
        torch.testing.assert_close(in_batch, single, atol=1e-4 * float(single.abs().max()), rtol=0)


@pytest.fixture(scope="module")
def ssl_upstream():
    torch.manual_seed(0)
    return FusedUpstream(SSL_MEMBERS).eval()


@pytest.mark.parametrize("interface", INTERFACES)
def test_head_input_is_the_same_alone_and_in_a_mixed_batch(ssl_upstream, interface):
    wavs = mixed_batch()
    _, batched = head_inputs_alone_and_batched(ssl_upstream, interface, wavs)
    assert [len(features) for features in batched] == [(len(wav) - 400) // 320 + 1 for wav in wavs]  # 16000 samples: 49 frames
    assert_batch_independent(ssl_upstream, interface, wavs)


@pytest.fixture(scope="module")
def ssl_cache(tmp_path_factory):
    """A fp32 feature cache of the SSL members over six bundled utterances, and their waveforms."""
    folder = tmp_path_factory.mktemp("crop-cache")
    audio_files = sorted((LIBRISPEECH_MINI / "dev-clean").rglob("*.flac"))[:6]
    (folder / "members.yaml").write_text(yaml.safe_dump({"members": SSL_MEMBERS}))
    (folder / "wavs.txt").write_text("\n".join(map(str, audio_files)) + "\n")
    cli_main(["cache", "build", "-u", "fused", "-g", str(folder / "members.yaml"), "--wav-list", str(folder / "wavs.txt"),
              "--out", str(folder / "cache"), "--device", "cpu", "--seed", "0", "--dtype", "fp32"])
    return CachedFusedUpstream(folder / "cache"), [read_waveform(path) for path in audio_files]


@pytest.mark.parametrize("interface", INTERFACES)
def test_head_input_from_a_feature_cache_is_the_same_alone_and_in_a_batch(ssl_cache, interface):
    upstream, wavs = ssl_cache
    assert len({wav.numel() for wav in wavs}) == len(wavs)
    assert_batch_independent(upstream, interface, wavs)


@pytest.fixture(scope="module")
def base_upstream():
    torch.manual_seed(0)
    return FusedUpstream([{"name": "wavlm_base_random", "kind": "hf", "config": BASE_WAVLM}]).eval()


@pytest.mark.parametrize("interface", INTERFACES)
def test_base_size_head_input_is_the_same_alone_and_in_a_batch_of_six(base_upstream, interface):
    assert_batch_independent(base_upstream, interface, mixed_batch())


@pytest.mark.parametrize("normalize", [False, True])
def test_s3prl_s_own_featurizer_over_a_fused_upstream_crops_at_the_valid_frames(ssl_upstream, normalize):
    """``-s hidden_states`` on a fused upstream: s3prl's Featurizer, as the runner patch builds it,
    gives each utterance the same frames alone and in a mixed batch."""
    from s3prl.upstream.interfaces import Featurizer

    from s3prl_fusion.s3prl_adapter.patches.runner import crop_at_fused_lengths

    wavs = mixed_batch()
    featurizer = Featurizer(ssl_upstream, "hidden_states", upstream_device="cpu", normalize=normalize).eval()
    crop_at_fused_lengths(featurizer)
    with torch.no_grad():
        batched = featurizer(wavs, ssl_upstream(wavs))
        alone = [featurizer([wav], ssl_upstream([wav]))[0] for wav in wavs]
    assert [len(features) for features in batched] == [(len(wav) - 400) // 320 + 1 for wav in wavs]
    for single, in_batch in zip(alone, batched):
        torch.testing.assert_close(in_batch, single, atol=1e-4 * float(single.abs().max()), rtol=0)
