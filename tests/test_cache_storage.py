"""The cache's storage forms: HConv's merged stack and int8, read back, sized, recorded, refused where they cannot serve."""
from __future__ import annotations

import contextlib
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import ASR_CONFIGS, DEMO_UPSTREAM, LIBRISPEECH_MINI, WHISPER_TINY_EN, run_python, runner_failure
from s3prl_fusion.cache import CachedFusedUpstream, waveform_key
from s3prl_fusion.cache.calibration import recorded_scales
from s3prl_fusion.cache.manifest import Manifest
from s3prl_fusion.cache.plan import aligned_frames, audio_from_data, bytes_per_hour, fused_members, member_shape, stored_bytes
from s3prl_fusion.cache.shards import FeatureOverflowError, ShardWriter, open_shard
from s3prl_fusion.cache.sources import read_waveform
from s3prl_fusion.cache.storage import ReconstructionError, calibrated_scales, decode, encode, int8_scales, stored_rows
from s3prl_fusion.experiments.checkpoints import load_checkpoint
from s3prl_fusion.cli import main as cli_main
from s3prl_fusion.featurizer import FeatureSelectionError, FusionFeaturizer
from s3prl_fusion.interfaces.hconv import HConv, merged_stack

DEV_CLEAN = LIBRISPEECH_MINI / "dev-clean"
FORMS = [(storage, dtype) for storage in ("per-member", "merged") for dtype in ("fp32", "fp16", "int8", "int8-calibrated")]
MEMBERS = ["wavlm_small_random", "whisper_small_random"]  # 5 x 64 and 4 x 48
ERROR_LINE = re.compile(r"relative RMS error ([\d.]+)%, max abs error ([\d.e+-]+)")


def build(out: Path, storage: str, dtype: str, data: Path = DEV_CLEAN, *extra: str) -> None:
    cli_main(["cache", "build", "-u", "fused", "-g", str(DEMO_UPSTREAM), "--data", str(data), "--out", str(out),
              "--device", "cpu", "--storage", storage, "--dtype", dtype, *extra])


@pytest.fixture(scope="module")
def caches(tmp_path_factory) -> dict[tuple[str, str], tuple[Path, str]]:
    """Every storage form over the bundled dev-clean: (folder, what its build printed)."""
    root = tmp_path_factory.mktemp("storage")
    built = {}
    for storage, dtype in FORMS:
        capture = root / f"{storage}-{dtype}.out"
        out = root / f"{storage}-{dtype}"
        with capture.open("w") as stream, contextlib.redirect_stdout(stream):
            build(out, storage, dtype)
        built[storage, dtype] = out, capture.read_text()
    return built


@pytest.fixture(scope="module")
def wavs() -> list[torch.Tensor]:
    return [read_waveform(path) for path in sorted(DEV_CLEAN.rglob("*.flac"))]


def read(caches, storage: str, dtype: str, wavs) -> dict:
    return CachedFusedUpstream(caches[storage, dtype][0])(wavs)


def test_merged_cache_equals_the_per_member_cache_merged_by_hconv(caches, wavs):
    per_member, merged = read(caches, "per-member", "fp32", wavs), read(caches, "merged", "fp32", wavs)
    assert set(merged) == {"fusion_merged", "fusion_lengths", "fusion_members"} and merged["fusion_members"] == MEMBERS
    assert torch.equal(merged["fusion_lengths"], per_member["fusion_lengths"])
    assert merged["fusion_merged"].shape[0] == 5 and merged["fusion_merged"].shape[-1] == 64
    torch.testing.assert_close(merged["fusion_merged"], merged_stack(per_member["fusion_stacks"]), atol=1e-6, rtol=0)

    torch.manual_seed(0)
    hconv = HConv([5, 4], [64, 48]).eval()
    with torch.no_grad():
        torch.testing.assert_close(hconv.conv(merged["fusion_merged"]), hconv(per_member["fusion_stacks"]), atol=1e-5, rtol=0)


def test_featurizer_over_a_merged_cache_is_the_same_hconv(caches, wavs):
    """Built for the members' layout: same set-up and parameter shapes, each one's weights load into the other, same output."""
    torch.manual_seed(0)
    on_members = FusionFeaturizer(CachedFusedUpstream(caches["per-member", "fp32"][0]), "hconv", upstream_name="fused_cache")
    on_merged = FusionFeaturizer(CachedFusedUpstream(caches["merged", "fp32"][0]), "hconv", upstream_name="fused_cache")
    assert on_merged.setup == on_members.setup and on_merged.reads_merged and not on_members.reads_merged
    assert {key: value.shape for key, value in on_merged.state_dict().items() if key != "_extra_state"} == {
        key: value.shape for key, value in on_members.state_dict().items() if key != "_extra_state"}
    on_merged.load_state_dict(on_members.state_dict())
    batch = wavs[:4]
    with torch.no_grad():
        from_merged = on_merged(batch, read(caches, "merged", "fp32", batch))
        from_members = on_members(batch, read(caches, "per-member", "fp32", batch))
    for merged_features, member_features in zip(from_merged, from_members):
        torch.testing.assert_close(merged_features, member_features, atol=1e-5, rtol=0)


@pytest.mark.parametrize("interface, settings, reason", [
    ("ws", {}, "-s ws reads each member's own stack"),
    ("gumd", {}, "-s gumd reads each member's own stack"),
    ("chconv", {}, "-s chconv reads each member's own stack"),
    ("hconv", {"normalize": True}, "-s hconv with normalize: true (also set by --upstream_feature_normalize) normalizes each member's stack"),
    ("hconv", {"match_dims": "error"}, "-s hconv with match_dims: error refuses members of unequal dims [64, 48]"),
])
def test_interfaces_that_need_the_members_stacks_refuse_a_merged_cache(caches, interface, settings, reason):
    folder = caches["merged", "fp32"][0]
    with pytest.raises(FeatureSelectionError) as refused:
        FusionFeaturizer(CachedFusedUpstream(folder), interface, settings)
    message = str(refused.value)
    assert f"the feature cache {folder} has storage merged" in message and reason in message
    assert "--storage per-member" in message and "-s hconv, normalize off (no --upstream_feature_normalize," in message


def test_manifest_records_the_storage_form_and_verify_prints_it(caches, capsys):
    settings = Manifest.load(caches["merged", "int8"][0]).settings
    assert (settings["storage"], settings["dtype"]) == ("merged", "int8")
    assert (settings["layer_counts"], settings["dims"], settings["merged_shape"]) == ([5, 4], [64, 48], [5, 64])
    per_member = Manifest.load(caches["per-member", "fp16"][0]).settings
    assert (per_member["storage"], per_member["dtype"]) == ("per-member", "fp16") and "merged_shape" not in per_member

    capsys.readouterr()
    cli_main(["cache", "verify", str(caches["merged", "int8"][0])])
    printed = capsys.readouterr().out
    assert "upstream fused, storage merged, dtype int8" in printed
    assert "16 utterances, 11.8 s of audio, storage merged, dtype int8" in printed
    assert f"merged ({' + '.join(MEMBERS)})" in printed and "5 x 64" in printed
    assert ERROR_LINE.search(printed) and "all 1 shards intact" in printed


@pytest.mark.parametrize("storage, dtype, difference", [
    ("per-member", "fp32", "storage: cache 'merged' vs 'per-member'"),
    ("merged", "int8", "dtype: cache 'fp32' vs 'int8'"),
])
def test_rebuilding_into_another_form_is_refused(caches, storage, dtype, difference, capsys):
    folder = caches["merged", "fp32"][0]
    manifest = (folder / "manifest.json").read_bytes()
    with pytest.raises(SystemExit) as ended:
        build(folder, storage, dtype)
    assert ended.value.code == 2
    assert f"the cache {folder} was built with other settings ({difference})" in capsys.readouterr().err
    assert (folder / "manifest.json").read_bytes() == manifest


def test_merged_storage_needs_several_members(tmp_path, capsys):
    single = tmp_path / "one-member.yaml"
    single.write_text("members:\n" + DEMO_UPSTREAM.read_text().split("members:\n")[1].split("  - name: whisper_small_random")[0])
    with pytest.raises(SystemExit) as ended:
        cli_main(["cache", "build", "-u", "fused", "-g", str(single), "--data", str(DEV_CLEAN), "--out", str(tmp_path / "cache"),
                  "--device", "cpu", "--storage", "merged"])
    assert ended.value.code == 2
    assert "a single member's merged stack is its own stack: build it with --storage per-member" in capsys.readouterr().err


@pytest.mark.parametrize("dtype", ["int8", "int8-calibrated"])
@pytest.mark.parametrize("storage", ["per-member", "merged"])
def test_int8_reads_back_within_the_printed_error_and_half_a_step(caches, wavs, storage, dtype):
    """Each value within half its scale of the computed one: the utterance's scales (int8) or the
    cache's (int8-calibrated, whose sample is every file here: nothing clipped)."""
    folder, printed = caches[storage, dtype]
    exact = read(caches, storage, "fp32", wavs)
    stored = read(caches, storage, dtype, wavs)
    key = "fusion_stacks" if storage == "per-member" else "fusion_merged"
    exact_stacks, stored_stacks = (exact[key], stored[key]) if storage == "per-member" else ([exact[key]], [stored[key]])
    reported = [(float(rms) / 100, float(largest)) for rms, largest in ERROR_LINE.findall(printed)]
    assert len(reported) == len(exact_stacks) == len(Manifest.load(folder).reconstruction_errors())
    for (rms, largest), reference, values in zip(reported, exact_stacks, stored_stacks):
        assert values.dtype == torch.float32
        error = (values - reference).double()
        measured = float(error.pow(2).sum().sqrt() / reference.double().pow(2).sum().sqrt())
        assert measured == pytest.approx(rms, abs=5e-6) and 0 < measured < 0.01
        assert 0 < float(error.abs().max()) <= largest * (1 + 5e-4)  # printed to 4 digits

    reference_folder = caches[storage, "fp32"][0]
    manifest, reference_manifest = Manifest.load(folder), Manifest.load(reference_folder)
    cache_scales = recorded_scales(manifest.settings)
    assert (cache_scales is not None) == (dtype == "int8-calibrated")
    for error in manifest.reconstruction_errors() if cache_scales else []:
        assert error.values > 0 and f"0 of {error.values} values clipped" in printed
    for wav in wavs:
        entry, reference_entry = manifest.utterances[waveform_key(wav)], reference_manifest.utterances[waveform_key(wav)]
        arrays = open_shard(folder, manifest.shard(entry["shard"]))
        reference_arrays = open_shard(reference_folder, reference_manifest.shard(reference_entry["shard"]))
        for index, (array, reference_array) in enumerate(zip(arrays, reference_arrays)):
            block = np.asarray(array[entry["offset"]: entry["offset"] + stored_rows(dtype, entry["frames"])])
            computed = reference_array[reference_entry["offset"]: reference_entry["offset"] + entry["frames"]]
            scales = cache_scales[index] if cache_scales else int8_scales(block)
            codes = block if cache_scales else block[2:]
            assert codes.shape == computed.shape and np.abs(codes).max() <= 127
            assert np.all(np.abs(decode(block, dtype, scales if cache_scales else None) - computed) <= scales / 2 * (1 + 1e-6) + 1e-7)


@pytest.mark.parametrize("storage, dtype", FORMS)
def test_every_form_reads_a_mixed_length_batch_with_zeros_past_each_utterance(caches, wavs, storage, dtype):
    """The batch is decoded in place into uninitialised memory: each utterance's frames equal its
    block decoded alone, and every frame past its length is zero, whatever the memory held."""
    garbage = [torch.full((4, 8, 64, 64), float("nan")) for _ in range(8)]  # freed memory a new batch may reuse
    del garbage
    batch = [wavs[0], wavs[-1], wavs[3]]
    features = read(caches, storage, dtype, batch)
    stacks = features["fusion_stacks"] if storage == "per-member" else [features["fusion_merged"]]
    folder = caches[storage, dtype][0]
    manifest = Manifest.load(folder)
    cache_scales = recorded_scales(manifest.settings) or [None] * len(stacks)
    for position, wav in enumerate(batch):
        entry = manifest.utterances[waveform_key(wav)]
        arrays = open_shard(folder, manifest.shard(entry["shard"]))
        for stack, array, scales in zip(stacks, arrays, cache_scales):
            block = np.asarray(array[entry["offset"]: entry["offset"] + stored_rows(dtype, entry["frames"])])
            alone = torch.from_numpy(decode(block, dtype, scales)).permute(1, 0, 2)
            assert torch.equal(stack[:, position, : entry["frames"]], alone)
            assert torch.count_nonzero(stack[:, position, entry["frames"]:]) == 0
    assert len({int(length) for length in features["fusion_lengths"]}) > 1


def test_int8_block_of_silence_and_of_overflowing_values():
    silence = np.zeros((3, 2, 4), np.float32)
    assert np.array_equal(decode(encode(silence, "int8"), "int8"), silence)
    writer = ShardWriter(Path("unused"), "int8", 1)
    with pytest.raises(FeatureOverflowError, match="overflow int8's float16 scales; build the cache with --dtype fp32"):
        writer.add("key", [np.full((3, 2, 4), 1e7, np.float32)], 16000, "loud.flac")


def test_int8_calibrated_clips_what_lies_beyond_its_scales_and_counts_it(tmp_path):
    """Values past 127 x the cache's scale read back as 127 x scale; the writer counts them."""
    scales = calibrated_scales(np.array([[1.0, 2.0]], np.float32)).astype(np.float32)  # 1.25 x absmax / 127
    assert np.all(scales >= np.float32([[1.25, 2.5]]) / 127) and np.all(scales < np.float32([[1.25, 2.5]]) / 127 * (1 + 1e-3))
    values = np.array([[[0.5, -2.0]], [[1.2, 2.6]], [[-9.0, 0.0]]], np.float32)  # (frames 3, L 1, D 2)
    block = encode(values, "int8-calibrated", scales)
    assert block.dtype == np.int8 and block.shape == values.shape
    expected = np.array([[[0.5, -2.0]], [[1.2, 127 * scales[0, 1]]], [[-127 * scales[0, 0], 0.0]]], np.float32)
    np.testing.assert_allclose(decode(block, "int8-calibrated", scales), expected, atol=float(scales.max()) / 2)
    writer = ShardWriter(tmp_path, "int8-calibrated", 2**30, [scales])
    writer.add("key", [values], 16000, "loud.flac")
    error = ReconstructionError(**writer.flush("shard-00000")[0]["errors"][0])
    assert (error.clipped, error.values) == (2, 6)
    assert "2 of 6 values clipped to the calibrated scales' range (0.33)" in error.describe("int8-calibrated")


@pytest.mark.skipif(not WHISPER_TINY_EN.is_dir(), reason="needs ../shared/models/whisper-tiny.en (a real pretrained checkpoint)")
def test_int8_forms_on_pretrained_whisper_tiny_en_err_as_the_storage_docstring_says(tmp_path, capsys):
    """The 160 bundled LibriSpeech utterances, scales from 32 of them for int8-calibrated."""
    printed = {}
    for dtype, extra in (("int8", []), ("int8-calibrated", ["--calibration-utterances", "32"])):
        cli_main(["cache", "build", "-u", "fused", "-k", str(WHISPER_TINY_EN), "--data", str(LIBRISPEECH_MINI), "--out", str(tmp_path / dtype),
                  "--device", "cpu", "--dtype", dtype, *extra])
        printed[dtype] = capsys.readouterr().out
    errors = {dtype: float(ERROR_LINE.search(text).group(1)) for dtype, text in printed.items()}
    assert errors["int8"] == pytest.approx(0.41, abs=0.02)
    assert errors["int8-calibrated"] == pytest.approx(0.73, abs=0.05) and 1.5 < errors["int8-calibrated"] / errors["int8"] < 2.2
    assert "scales from 1.25 x the absmax over 32 of the 160 files" in printed["int8-calibrated"]
    assert re.search(r"[1-9]\d* of \d+ values clipped", printed["int8-calibrated"])


def test_a_calibration_of_no_files_is_refused_before_anything_runs(tmp_path, capsys):
    with pytest.raises(SystemExit) as ended:
        build(tmp_path / "cache", "merged", "int8-calibrated", DEV_CLEAN, "--calibration-utterances", "0")
    assert ended.value.code == 2 and not (tmp_path / "cache").exists()
    assert "--calibration-utterances must be at least 1 (got 0)" in capsys.readouterr().err


def stored_array_bytes(folder: Path) -> list[int]:
    """Bytes of each stored stack's arrays in the cache's shard files (the .npy headers left out)."""
    manifest = Manifest.load(folder)
    return [sum((folder / shard["files"][index]).stat().st_size - np.load(folder / shard["files"][index], mmap_mode="r").offset
                for shard in manifest.shards) for index in range(len(manifest.stored_stacks()))]


def test_plan_sizes_are_what_each_form_stores(caches):
    shapes = [member_shape(entry) for entry in fused_members("fused", None, str(DEMO_UPSTREAM))]
    audio = audio_from_data([str(DEV_CLEAN)])
    frames = aligned_frames(shapes, audio)
    for (storage, dtype), (folder, _) in caches.items():
        manifest = Manifest.load(folder)
        assert stored_array_bytes(folder) == stored_bytes(shapes, frames, audio.utterances, storage, dtype), (storage, dtype)
        per_hour = sum(manifest.bytes_per_member()) / manifest.hours_of_audio()
        planned = bytes_per_hour(shapes, storage, dtype, audio.utterances / audio.hours)
        assert per_hour == pytest.approx(planned, rel=0.03), (storage, dtype)


def test_merged_and_int8_bytes_against_per_member_fp16(caches):
    size = {form: sum(stored_array_bytes(folder)) for form, (folder, _) in caches.items()}
    frames = sum(entry["frames"] for entry in Manifest.load(caches["merged", "int8"][0]).utterances.values())
    # demo members: per frame 5 x 64 + 4 x 48 = 512 values per member form, 320 merged; int8 adds 2 rows of scales per utterance
    assert size["merged", "fp16"] / size["per-member", "fp16"] == 320 / 512
    assert size["merged", "int8"] / size["per-member", "fp16"] == pytest.approx((frames + 2 * 16) * 320 / (frames * 512 * 2), rel=1e-12)
    assert size["merged", "int8"] / size["per-member", "fp16"] < 1 / 3
    assert size["merged", "int8-calibrated"] / size["per-member", "fp16"] == 320 / (512 * 2)
    assert size["per-member", "int8-calibrated"] / size["per-member", "fp16"] == 1 / 2

    # two 13 x 768 members at 50 frames/s and LibriSpeech's 283.7 utterances per hour: a quarter, plus the scales
    shapes = [member_shape(entry) for entry in fused_members("fused_wavlm_whisper", None, None)]
    per_member = bytes_per_hour(shapes, "per-member", "fp16", 283.7)
    assert per_member / 2**30 == pytest.approx(6.69, abs=0.005)
    assert bytes_per_hour(shapes, "merged", "fp16", 283.7) / per_member == pytest.approx(1 / 2)
    assert bytes_per_hour(shapes, "merged", "int8", 283.7) / per_member == pytest.approx((1 + 2 * 283.7 / 180000) / 4)
    assert bytes_per_hour(shapes, "merged", "int8-calibrated", 283.7) / per_member == 1 / 4
    assert bytes_per_hour(shapes, "merged", "int8-calibrated", 283.7) / 2**30 <= 6.7 / 4


@pytest.fixture(scope="module")
def runner_caches(tmp_path_factory, librispeech_buckets) -> dict[str, Path]:
    """name -> folder: "per-member" and "merged" in fp16, "merged int8-calibrated"."""
    root = tmp_path_factory.mktemp("runner-caches")
    forms = {"per-member": ("per-member", "fp16"), "merged": ("merged", "fp16"), "merged int8-calibrated": ("merged", "int8-calibrated")}
    for name, (storage, dtype) in forms.items():
        build(root / name, storage, dtype, librispeech_buckets / "train-clean-100.csv", "--root", str(LIBRISPEECH_MINI))
    return {name: root / name for name in forms}


def runner_overrides(librispeech_buckets, *extra: str) -> str:
    return ",,".join([f"config.downstream_expert.datarc.libri_root='{LIBRISPEECH_MINI}'",
                      f"config.downstream_expert.datarc.bucket_file='{librispeech_buckets}'", *extra])


def test_runner_trains_hconv_from_a_merged_cache(tmp_path, runner_caches, librispeech_buckets):
    """-u fused_cache -k <merged, fp16 or int8-calibrated> -s hconv trains; its checkpoint's set-up
    is that of the same run on a per-member cache."""
    setups = {}
    for name, cache in runner_caches.items():
        expdir = tmp_path / name
        result = run_python(["-m", "s3prl_fusion.run_downstream", "-m", "train", "-u", "fused_cache", "-k", str(cache), "-s", "hconv",
                             "-d", "asr", "-c", str(ASR_CONFIGS / "demo.yaml"), "-p", str(expdir), "--device", "cpu",
                             "-o", runner_overrides(librispeech_buckets, "config.runner.total_steps=2", "config.runner.save_step=2")])
        assert f"interface hconv over 2 member(s) {MEMBERS}" in result.stderr
        assert ("only its convs run" in result.stderr) == name.startswith("merged")
        setups[name] = load_checkpoint(expdir / "states-2.ckpt")["Featurizer"]
    shapes = {name: {key: tuple(value.shape) for key, value in state.items() if key != "_extra_state"} for name, state in setups.items()}
    for merged in ("merged", "merged int8-calibrated"):
        assert setups[merged]["_extra_state"] == setups["per-member"]["_extra_state"]
        assert shapes[merged] == shapes["per-member"]
        FusionFeaturizer(CachedFusedUpstream(runner_caches["per-member"]), "hconv", upstream_name="fused_cache").load_state_dict(setups[merged])


@pytest.mark.parametrize("interface, overrides, reason", [
    ("ws", [], "-s ws reads each member's own stack"),
    ("chconv", [], "-s chconv reads each member's own stack"),
    ("hconv", ["config.interface.hconv.normalize=True"], "-s hconv with normalize: true"),
])
def test_runner_refuses_a_merged_cache_for_what_needs_the_members_stacks(tmp_path, runner_caches, librispeech_buckets, interface, overrides, reason):
    stderr = runner_failure(tmp_path, "-u", "fused_cache", "-k", str(runner_caches["merged"]), "-s", interface, "-d", "asr",
                            "-c", str(ASR_CONFIGS / "demo.yaml"), "-o", runner_overrides(librispeech_buckets, *overrides))
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, stderr[-2000:]
    assert f"the feature cache {runner_caches['merged']} has storage merged" in errors[0] and reason in errors[0]
    assert "--storage per-member" in errors[0]
