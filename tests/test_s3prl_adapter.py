"""The adapter is the one place that touches s3prl, and it refuses an s3prl whose internals
differ from those its patches were written for, before patching anything."""
from __future__ import annotations

import ast
import importlib
import importlib.util
import re
import shutil
import sys
import types
from pathlib import Path

import pytest
import s3prl
import torch
from torch.utils.data import DataLoader

from conftest import REPO_ROOT, run_python
from s3prl_fusion.errors import SettingError
from s3prl_fusion.s3prl_adapter.patches import hooks
from s3prl_fusion.s3prl_adapter.patches.batch_names import NamedBatches
from s3prl_fusion.s3prl_adapter.patches.distributed import check_backend, script_torch, torchrun_local_rank
from s3prl_fusion.s3prl_adapter.internals.hub import HUB_TARGETS
from s3prl_fusion.s3prl_adapter.internals.hub_models import HUB_MODEL_TARGETS
from s3prl_fusion.s3prl_adapter.nn import NN_TARGETS
from s3prl_fusion.s3prl_adapter.patches.runner import RUNNER_TARGETS, patch_runner
from s3prl_fusion.s3prl_adapter.patches.script import SCRIPT_TARGETS
from s3prl_fusion.s3prl_adapter.patches.sv_task import SV_DATASET_TARGETS, SV_EXPERT_TARGETS
from s3prl_fusion.s3prl_adapter.patches.voxceleb1_task import SID_DATASET_TARGETS
from s3prl_fusion.s3prl_adapter.patches.ctc_task import CTC_DATA_TARGETS
from s3prl_fusion.s3prl_adapter.internals.targets import TESTED_S3PRL_VERSIONS, PatchTarget, UnsupportedS3PRLError, installed_s3prl_version
from s3prl_fusion.upstreams.input_checks import InvalidAudioError, check_waveforms

PACKAGE = REPO_ROOT / "s3prl_fusion"
ADAPTER = PACKAGE / "s3prl_adapter"
ALL_TARGETS = (*HUB_TARGETS, *RUNNER_TARGETS, *SCRIPT_TARGETS, *SV_DATASET_TARGETS, *SV_EXPERT_TARGETS, *SID_DATASET_TARGETS, *CTC_DATA_TARGETS, *NN_TARGETS, *HUB_MODEL_TARGETS)


def stock_module(name: str, replaced: str | None = None, replacement: str | None = None, written_to: Path | None = None) -> types.ModuleType:
    """A fresh, unpatched copy of the installed s3prl module ``name``, its source with ``replaced``
    written as ``replacement`` when given (and saved in the folder ``written_to``, when given, so
    that the functions' source read back by ``inspect`` is the changed one)."""
    path = Path(importlib.util.find_spec(name).origin)
    source = path.read_text()
    if replaced is not None:
        assert replaced in source
        source = source.replace(replaced, replacement)
    if written_to is not None:
        path = written_to / path.name
        path.write_text(source)
    module = types.ModuleType(name)
    module.__file__, module.__package__ = str(path), name.rpartition(".")[0]
    exec(compile(source, str(path), "exec"), module.__dict__)
    return module


def test_the_installed_s3prl_has_everything_each_patch_was_written_for():
    modules = sorted({target.module for target in ALL_TARGETS})
    assert modules == [
        "s3prl.downstream.ctc.data", "s3prl.downstream.runner", "s3prl.downstream.sv_voxceleb1.dataset", "s3prl.downstream.sv_voxceleb1.expert",
        "s3prl.downstream.voxceleb1.dataset", "s3prl.hub", "s3prl.nn.upstream", "s3prl.run_downstream", "s3prl.upstream.baseline.expert",
        "s3prl.upstream.hubert.hubert_model", "s3prl.upstream.wav2vec2.wav2vec2_model", "s3prl.upstream.wavlm.WavLM",
    ]
    stock = {name: stock_module(name) for name in modules}
    for target in ALL_TARGETS:
        assert target.problem(stock[target.module]) is None, target


def _imported_modules(path: Path) -> list[str]:
    """Every module ``path`` imports (at module level or inside functions), and every module named
    by a string literal that is a dotted module name such as ``"s3prl.hub"``."""
    tree = ast.parse(path.read_text())
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and re.fullmatch(r"s3prl(\.\w+)+(:\w+)?", node.value):
            names.append(node.value.split(":")[0])
    return names


def test_nothing_outside_the_adapter_imports_or_names_an_s3prl_module():
    touching = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if ADAPTER in path.parents:
            continue
        found = [name for name in _imported_modules(path) if name == "s3prl" or name.startswith("s3prl.")]
        if found:
            touching[str(path.relative_to(REPO_ROOT))] = found
    assert touching == {}


def test_every_hook_on_an_s3prl_module_is_the_adapters():
    for table in (hooks._HOOKS, hooks._COMPAT_HOOKS):
        for module, (before, after) in table.items():
            if module.startswith("s3prl."):
                assert all(hook is None or hook.startswith("s3prl_fusion.s3prl_adapter.") for hook in (before, after)), (module, before, after)
                importlib.import_module(after.split(":")[0])


def test_a_changed_runner_is_refused_before_anything_is_patched():
    changed = stock_module("s3prl.downstream.runner", "def _get_optimizer(self, model_params):", "def _get_optimizer(self, model_params, scale=1.0):")
    stock = {name: getattr(changed.Runner, name) for name in ("__init__", "train", "evaluate", "_get_featurizer", "_get_downstream")}
    with pytest.raises(UnsupportedS3PRLError) as refused:
        patch_runner(changed)
    message = str(refused.value)
    assert f"tested: {', '.join(TESTED_S3PRL_VERSIONS)}" in message
    assert "the optimizer whose zero_grad advances ranks > 0: s3prl.downstream.runner.Runner._get_optimizer takes (self, model_params, scale)" in message
    assert {name: getattr(changed.Runner, name) for name in stock} == stock
    assert not hasattr(changed.Runner, "_s3prl_fusion_patched")
    assert changed.torch is torch and changed.DDP is torch.nn.parallel.DistributedDataParallel


@pytest.mark.parametrize("module, replaced, replacement, problem", [
    ("s3prl.upstream.wavlm.WavLM", "features: torch.Tensor,\n        padding_mask: torch.Tensor,\n    ) -> torch.Tensor:\n        extra",
     "features: torch.Tensor,\n        padding_mask: torch.Tensor,\n        stride: int = 320,\n    ) -> torch.Tensor:\n        extra",
     "frames past each utterance's conv frames count as padding (forward_padding_mask replaced on the model object): "
     "s3prl.upstream.wavlm.WavLM.WavLM.forward_padding_mask takes (self, features, padding_mask, stride), not (self, features, padding_mask)"),
    ("s3prl.upstream.wav2vec2.wav2vec2_model", "x_conv = self.pos_conv(x.transpose(1, 2))", "x_conv = self.pos_conv(x.mT)",
     "Data2Vec's stacked positional convs see zeros past each utterance (hooks on pos_conv's blocks): "
     "s3prl.upstream.wav2vec2.wav2vec2_model.TransformerEncoder.extract_features no longer contains 'x_conv = self.pos_conv(x.transpose(1, 2))'"),
])
def test_a_changed_s3prl_model_stops_a_hub_member_before_its_model_is_changed(monkeypatch, tmp_path, module, replaced, replacement, problem):
    """The patches on s3prl's model objects (forward_padding_mask, the positional conv hooks) are
    checked like the others: a changed target stops the member's build with a message naming the
    patch, and the model keeps its own forward_padding_mask and GroupNorm."""
    from s3prl.upstream.wavlm.WavLM import WavLM, WavLMConfig

    from s3prl_fusion.upstreams.members import S3PRLHubMember

    model = WavLM(WavLMConfig(dict(extractor_mode="default", encoder_layers=1, encoder_embed_dim=32, encoder_ffn_embed_dim=64,
                                   encoder_attention_heads=2, conv_feature_layers="[(32,10,5)] + [(32,3,2)] * 4 + [(32,2,2)] * 2",
                                   conv_pos=8, conv_pos_groups=2)))
    monkeypatch.setitem(sys.modules, module, stock_module(module, replaced, replacement, written_to=tmp_path))
    with pytest.raises(UnsupportedS3PRLError) as refused:
        S3PRLHubMember(model)
    assert problem in str(refused.value)
    assert "forward_padding_mask" not in vars(model)
    assert type(model.feature_extractor.conv_layers[0][2]).__name__ == "Fp32GroupNorm"


def test_missing_attributes_and_code_are_named():
    module = types.ModuleType("fake")
    module.run = lambda: None
    assert PatchTarget("p", "fake", "Runner.train").problem(module) == "fake has no Runner.train"
    assert PatchTarget("p", "fake", "run", source_contains=("desc='overall'",)).problem(module) == "fake.run no longer contains \"desc='overall'\""


def test_an_s3prl_whose_runner_differs_stops_every_entry_point_with_exit_2(tmp_path):
    """A copy of the installed s3prl whose Runner.train lost the progress bar the patches rely on,
    first on the path: each entry point ends with one message, exit status 2."""
    copy = tmp_path / "site" / "s3prl"
    shutil.copytree(Path(s3prl.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    runner = copy / "downstream" / "runner.py"
    runner.write_text(runner.read_text().replace("desc='overall'", "desc='steps'"))
    shutil.copy(copy / "run_downstream.py", tmp_path / "run_downstream.py")
    env = {"PYTHONPATH": str(tmp_path / "site")}
    for command in (["-m", "s3prl_fusion.run_downstream"], ["run_downstream.py"]):
        result = run_python([*command, "-m", "train", "-u", "fbank", "-d", "asr", "-n", "x"], cwd=tmp_path, check=False, env=env)
        assert result.returncode == 2, result.stderr[-3000:]
        assert "Traceback" not in result.stderr, result.stderr[-3000:]
        message = result.stderr.strip().splitlines()[-1]
        assert message.startswith(f"error: s3prl {installed_s3prl_version()} is not one the plugin's patches were written for"), message
        assert "Runner.train no longer contains \"desc='overall'\"" in message and "pip install s3prl==" in message


def test_torchrun_passes_its_local_rank_to_s3prls_script(monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert torchrun_local_rank(["-m", "train"]) == "1"
    assert torchrun_local_rank(["-m", "train", "--local_rank", "0"]) is None
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert torchrun_local_rank(["-m", "train"]) is None


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the machine without CUDA")
def test_without_cuda_nccl_is_refused_and_set_device_does_nothing_in_the_script_only():
    with pytest.raises(SettingError, match="--backend nccl needs CUDA GPUs; on CPUs pass --backend gloo --device cpu"):
        check_backend(["--local_rank", "0"])
    check_backend(["--local_rank", "0", "--backend", "gloo"])
    check_backend(["-m", "train"])
    script_torch().cuda.set_device(1)
    assert torch.cuda.set_device is sys.modules["torch.cuda"].set_device
    assert script_torch().load is torch.load


def test_an_audio_error_in_a_runner_batch_names_the_utterance():
    batches = [([torch.zeros(800), torch.zeros(900)], [3, 4], ["103-1240-0000", "103-1240-0001"]),
               ([torch.zeros(800), torch.zeros(100)], [1, 2], ["19-198-0003", "19-198-0004"])]
    named = NamedBatches()
    # as sv_voxceleb1's collate_fn, the batches are one-pass iterators
    loader = named.wrapping(lambda split: DataLoader(batches, batch_size=None, collate_fn=lambda batch: zip(*zip(*batch))))("train")
    assert len(loader) == 2
    with pytest.raises(InvalidAudioError) as refused, named.naming_audio_errors():
        for wavs, *_ in loader:
            check_waveforms(wavs, 400, "fused")
    assert str(refused.value).startswith("fused: utterance 19-198-0004 (item 1 of the batch) has 100 samples")
    with pytest.raises(InvalidAudioError, match="^fused: utterance 1 has 100 samples"):
        check_waveforms(batches[1][0], 400, "fused")
