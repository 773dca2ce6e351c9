"""SUPERB's QbE protocol (``-d quesst14_dtw``) for any upstream, fused ones included: DTW layer by
layer, the best layer chosen on dev (MTWV) and reported on test (the eval queries).

    s3prl-fusion qbe OUT_DIR [s3prl runner flags: -u, -g, -k, -o, --device ...]

The layers swept (each a *candidate*, named ``<stack>.layer<N>``):

- a fused upstream: ``fused.layer<N>`` for every aligned layer N < max L_i of the fused stack (the
  members' stacks frames-aligned and layer-aligned by ``fusion/align.py`` and concatenated along
  the feature axis: what ``-s hidden_states -l N`` hands the task), then ``<member>.layer<N>`` for
  every hidden state N < L_i of each member, at the member's own frame rate and valid frames (the
  stack the member alone would give, before any alignment);
- any other upstream: ``upstream.layer<N>`` for each of its hidden states (``-s hidden_states -l N``).

Efficiency: s3prl's own ``Runner`` is built from the flags (as ``run_downstream.py`` builds it:
same seed, upstream, task config and ``quesst14_dtw`` expert), then each split's audio passes
through the members once; every candidate's features are handed to the expert's ``forward`` (as
the runner's ``evaluate`` does) and kept on disk (``<split>/.features/``, float32, one file per
candidate, removed once scored: layers x frames x dim x 4 bytes; ``layers_per_pass`` bounds it,
running the members once per that many layers), then the expert's own ``log_records`` runs its normalisation,
DTW and scoring per candidate and writes ``<split>/<candidate>/benchmark.stdlist.xml``. The
fused candidates' features are s3prl's own ``Featurizer`` with ``-l N`` on the fused output, so
each equals a runner ``-m evaluate -s hidden_states -l N`` run. A candidate whose detection list
exists is not run again.

Dev's detection lists are scored with MTWV (``s3prl_fusion.results.qbe``); the best (ties: the
first in the order above) is run on ``test`` alone, its list copied to ``OUT_DIR/benchmark.stdlist.xml``
(the file SUPERB's submission packs) and ``OUT_DIR/qbe_sweep.json`` records the upstream (``-u``,
``-g``, ``-k``), its members, the database folder, every candidate's dev MTWV and the chosen one.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from s3prl_fusion.audio.sample_rate import SAMPLE_RATE
from s3prl_fusion.errors import MissingPathError, SettingError
from s3prl_fusion.experiments.atomic_files import write_atomically
from s3prl_fusion.experiments.command_line import typed_flags
from s3prl_fusion.experiments.task_configs import resolve_task_config
from s3prl_fusion.results import qbe
from s3prl_fusion.s3prl_adapter.patches.runner import crop_at_fused_lengths
from s3prl_fusion.s3prl_adapter.patches.script import SCRIPT_NAME, checked_script_arguments, patch_script_module
from s3prl_fusion.upstreams.identity import upstream_identities

TASK = "quesst14_dtw"
FEATURE_SELECTION = "hidden_states"
SWEPT_FLAGS = ("downstream", "upstream_feature_selection", "upstream_layer_selection", "expdir", "expname", "past_exp", "auto_resume")
SPLITS = ("dev", "test")


class SpilledFeatures:
    """The expert's ``records["features"]`` of one candidate kept on disk: ``append`` takes (T, D)
    tensors, ``load`` gives them back (float32) and removes the file."""

    def __init__(self, path: Path):
        self.path = path
        self.handle = open(path, "wb")
        self.shapes: list[tuple[int, ...]] = []

    def append(self, feature: torch.Tensor) -> None:
        array = np.ascontiguousarray(feature.detach().cpu().numpy(), dtype=np.float32)
        self.handle.write(array.tobytes())
        self.shapes.append(array.shape)

    def load(self) -> list[torch.Tensor]:
        self.handle.close()
        data = np.fromfile(self.path, dtype=np.float32)
        self.path.unlink()
        ends = np.cumsum([int(np.prod(shape)) for shape in self.shapes])
        return [torch.from_numpy(chunk.reshape(shape)) for chunk, shape in zip(np.split(data, ends[:-1]), self.shapes)]


class LayerSweep:
    """The candidates of an upstream (as s3prl's Runner built it) and their per-utterance features.
    ``normalize``: the runner's ``--upstream_feature_normalize``, handed to s3prl's Featurizer as the
    runner hands it (with ``-l`` it changes nothing: s3prl normalises only before a weighted sum)."""

    def __init__(self, upstream: torch.nn.Module, device: str, normalize: bool = False):
        self.upstream = upstream
        self.fused = hasattr(upstream, "run_members")
        probe, member_stacks = [torch.randn(SAMPLE_RATE, device=device)], []
        with torch.no_grad():
            if self.fused:
                member_stacks, lengths = upstream.run_members(probe)
                hidden_states = len(upstream.fuse(member_stacks, lengths)[FEATURE_SELECTION])
            else:
                hidden_states = len(upstream(probe)[FEATURE_SELECTION])
        first = "fused" if self.fused else "upstream"
        self.featurizers = {f"{first}.layer{layer}": self._featurizer(layer, device, normalize) for layer in range(hidden_states)}
        self.member_layers = {
            f"{name}.layer{layer}": (index, layer)
            for index, (name, stack) in enumerate(zip(getattr(upstream, "member_names", []), member_stacks))
            for layer in range(stack.size(0))
        }

    def _featurizer(self, layer: int, device: str, normalize: bool):
        from s3prl.upstream.interfaces import Featurizer

        featurizer = Featurizer(upstream=self.upstream, feature_selection=FEATURE_SELECTION, layer_selection=layer,
                                upstream_device=device, normalize=normalize).to(device)
        crop_at_fused_lengths(featurizer)
        return featurizer

    @property
    def candidates(self) -> list[str]:
        return [*self.featurizers, *self.member_layers]

    @staticmethod
    def describe(candidate: str) -> dict:
        stack, layer = candidate.rsplit(".layer", 1)
        return {"name": candidate, "stack": stack, "layer": int(layer)}

    def features(self, wavs: list[torch.Tensor], wanted: list[str]) -> dict[str, list[torch.Tensor]]:
        """The B per-utterance (T_i, D) features of each ``wanted`` candidate; the members run once."""
        out = {}
        if self.fused:
            stacks, lengths = self.upstream.run_members(wavs)
            upstream_features = self.upstream.fuse(stacks, lengths)
        else:
            upstream_features = self.upstream(wavs)
        for candidate in wanted:
            if candidate in self.featurizers:
                out[candidate] = self.featurizers[candidate](wavs, upstream_features)
            else:
                member, layer = self.member_layers[candidate]
                rate = self.upstream.member_downsample_rates[member]
                out[candidate] = [
                    stacks[member][layer, index, : min(int(length), round(len(wav) / rate))]
                    for index, (wav, length) in enumerate(zip(wavs, lengths[member]))
                ]
        return out


def build_runner(out_dir: Path, runner_flags: list[str]):
    """s3prl's Runner for ``-m evaluate -d quesst14_dtw -s hidden_states -p OUT_DIR`` and ``runner_flags``,
    seeded as s3prl's ``run_downstream.py`` seeds it."""
    typed = typed_flags(runner_flags, *SWEPT_FLAGS)
    if typed:
        raise SettingError(
            f"the QbE sweep sets -d {TASK} -s {FEATURE_SELECTION}, every -l and the experiment folder itself; "
            f"drop {', '.join('--' + name for name in typed)}"
        )
    if "-m" in runner_flags or "--mode" in runner_flags:
        raise SettingError("the QbE sweep evaluates only (nothing is trained): drop -m")
    config = typed_flags(runner_flags, "config").get("config") or str(resolve_task_config(TASK))
    argv = ["-m", "evaluate", "-d", TASK, "-s", FEATURE_SELECTION, "-p", str(out_dir), "-c", config, *runner_flags]
    sys.argv = [SCRIPT_NAME, *checked_script_arguments(argv)]
    from s3prl import run_downstream
    from s3prl.downstream.runner import Runner
    from s3prl.utility.helper import hack_isinstance

    patch_script_module(run_downstream)
    torch.multiprocessing.set_sharing_strategy("file_system")
    hack_isinstance()
    args, config, _ = run_downstream.get_downstream_args()
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(args.seed)
    return Runner(args, config)


def detections_path(out_dir: Path, split: str, candidate: str) -> Path:
    return out_dir / split / candidate / qbe.DETECTIONS


def run_split(runner, sweep: LayerSweep, out_dir: Path, split: str, candidates: list[str], layers_per_pass: int | None = None) -> None:
    """Each of ``candidates`` without a detection list on ``split``: the members over the split's
    queries and documents once per ``layers_per_pass`` candidates (default: once for all), then the
    expert's DTW and scoring per candidate."""
    wanted = [candidate for candidate in candidates if not detections_path(out_dir, split, candidate).is_file()]
    size = layers_per_pass or len(wanted) or 1
    groups = [wanted[start : start + size] for start in range(0, len(wanted), size)]
    for number, group in enumerate(groups, 1):
        print(f"[qbe] {split}: the members over every query and document for {len(group)} layer(s) ({', '.join(group)}): pass {number} of {len(groups)}", file=sys.stderr)
        _run_pass(runner, sweep, out_dir, split, group)


def _run_pass(runner, sweep: LayerSweep, out_dir: Path, split: str, wanted: list[str]) -> None:
    expert = runner.downstream.model
    for entry in runner.all_entries:
        entry.model.eval()
    dataloader = expert.get_dataloader(split)
    spill = out_dir / split / ".features"
    shutil.rmtree(spill, ignore_errors=True)
    spill.mkdir(parents=True)
    records = {candidate: {"features": SpilledFeatures(spill / f"{candidate}.f32"), "audio_names": []} for candidate in wanted}
    batches = tqdm(dataloader, dynamic_ncols=True, desc=f"{split}: members over {len(wanted)} layers")
    with runner._s3prl_fusion_batches.naming_audio_errors():  # as the patched Runner.evaluate: an audio error names the file
        for batch_id, (wavs, *others) in enumerate(batches):
            wavs = [torch.FloatTensor(wav).to(runner.args.device) for wav in wavs]
            with torch.no_grad():
                for candidate, features in sweep.features(wavs, wanted).items():
                    expert(split, features, *others, records=records[candidate], batch_id=batch_id)
    for candidate in tqdm(wanted, desc=f"{split}: DTW per layer"):
        scored = {"features": records[candidate]["features"].load(), "audio_names": records[candidate]["audio_names"]}
        folder = detections_path(out_dir, split, candidate).parent
        partial = folder.with_name(folder.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        expert.expdir = partial  # where the expert writes benchmark.stdlist.xml
        expert.log_records(split, records=defaultdict(list, scored))
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(partial, folder)
    shutil.rmtree(spill, ignore_errors=True)


def check_split(dataset, split: str) -> None:
    """s3prl reads the English (``nnenglish``) lines of the language keys: a split without queries
    or documents has nothing to score."""
    key = f"scoring/language_key_{'dev' if split == 'dev' else 'eval'}.lst"
    if dataset.n_queries == 0:
        raise MissingPathError(f"{dataset.dataset_root}/{key} lists no nnenglish query: s3prl's QbE scores the English {split} queries; "
                               "dataset_root must be the quesst14Database folder as released")
    if dataset.n_docs == 0:
        raise MissingPathError(f"{dataset.dataset_root}/scoring/language_key_utterances.lst lists no nnenglish document")


def sweep(out_dir: Path, runner_flags: list[str], layers_per_pass: int | None = None) -> dict:
    """The whole protocol (module docstring); returns the record written to ``OUT_DIR/qbe_sweep.json``.
    ``layers_per_pass``: at most this many layers' features kept on disk at once, the members run
    once per that many layers (default: every layer from one pass)."""
    if layers_per_pass is not None and layers_per_pass < 1:
        raise SettingError(f"--layers-per-pass {layers_per_pass}: give a positive number of layers (or leave it out: every layer from one pass)")
    out_dir = Path(out_dir).resolve()
    runner = build_runner(out_dir, runner_flags)
    dataset_root = Path(runner.config["downstream_expert"]["datarc"]["dataset_root"]).resolve()
    for split in SPLITS:
        qbe.ground_truth_folder(dataset_root, split)
    expert = runner.downstream.model
    for split in SPLITS:
        expert.get_dataloader(split)
        check_split(expert.test_dataset, split)
    layer_sweep = LayerSweep(runner.upstream.model, runner.args.device, runner.args.upstream_feature_normalize)
    run_split(runner, layer_sweep, out_dir, "dev", layer_sweep.candidates, layers_per_pass)
    dev_mtwv = {
        candidate: qbe.score_detections(detections_path(out_dir, "dev", candidate), dataset_root, "dev")["mtwv"]
        for candidate in layer_sweep.candidates
    }
    chosen = max(layer_sweep.candidates, key=lambda candidate: dev_mtwv[candidate])  # the first of the best
    run_split(runner, layer_sweep, out_dir, "test", [chosen])
    shutil.copyfile(detections_path(out_dir, "test", chosen), out_dir / qbe.DETECTIONS)
    members, autocast = upstream_identities(runner.upstream.model, runner.args.upstream, runner.args.upstream_ckpt, runner.args.upstream_model_config)
    record = {
        "upstream": runner.args.upstream,
        "upstream_model_config": runner.args.upstream_model_config and str(Path(runner.args.upstream_model_config).resolve()),
        "upstream_ckpt": runner.args.upstream_ckpt,
        "interface": FEATURE_SELECTION,
        "members": json.loads(json.dumps(members, default=str)),
        "autocast": autocast,
        "dataset_root": str(dataset_root),
        "layers": [LayerSweep.describe(candidate) for candidate in layer_sweep.candidates],
        "dev_mtwv": dev_mtwv,
        "chosen_layer": LayerSweep.describe(chosen),
    }
    write_atomically(out_dir / qbe.SWEEP_RECORD, lambda handle: handle.write(json.dumps(record, indent=2).encode()))
    width = max(len(candidate) for candidate in layer_sweep.candidates)
    for candidate in layer_sweep.candidates:
        print(f"[qbe] dev MTWV {candidate:<{width}} {dev_mtwv[candidate]:.4f}{'  <- chosen' if candidate == chosen else ''}")
    return record
