"""s3prl's multi-process training on CPUs (gloo) and under ``torchrun``.

s3prl's ``run_downstream.py`` starts distributed training from ``--local_rank N`` (the old
``torch.distributed.launch``): it calls ``torch.cuda.set_device(N)`` and
``init_process_group(--backend)``, and its Runner wraps trainable modules in
``DDP(module, device_ids=[N])``. What the adapter adds (``script.py`` and ``runner.py`` apply it):

- launched by ``torchrun`` (``LOCAL_RANK`` / ``WORLD_SIZE`` in the environment, no
  ``--local_rank`` flag), the script's arguments get ``--local_rank $LOCAL_RANK``, so s3prl's
  own code initialises the process group (only rank 0 writes logs and checkpoints) and
  checkpoints record a distributed run (``torchrun_local_rank``);
- on a machine without CUDA, the ``torch.cuda.set_device`` of s3prl's script (and only
  there) has no device to select and does nothing (``script_torch``);
- modules whose parameters are on the CPU are wrapped in DDP without ``device_ids``
  (``ddp_on_module_device``);
- ranks > 0 advance the Runner's step counter on every optimizer update: s3prl's
  ``Runner.train`` advances it (``pbar.update``) after a ``continue`` that only rank 0 passes,
  so the other ranks would never leave the training loop (``progress_on_every_rank``).

    torchrun --nproc_per_node 2 -m s3prl_fusion.run_downstream -m train ... --backend gloo --device cpu

``S3PRL_FUSION_RANK_REPORT=DIR`` makes every rank save ``DIR/rank-<r>.pt`` when training ends:
its trainable modules' weights and the checkpoint and log folders it wrote, so a launcher can
check that DDP kept the ranks identical and that only rank 0 wrote files (``RankReport``).
"""
from __future__ import annotations

import contextlib
import os
import types
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from s3prl_fusion.errors import SettingError
from s3prl_fusion.s3prl_adapter.internals.module_views import module_with
from s3prl_fusion.experiments.command_line import typed_flags

RANK_REPORT_ENV = "S3PRL_FUSION_RANK_REPORT"


def torchrun_local_rank(argv: list[str]) -> str | None:
    """``LOCAL_RANK`` when a torch.distributed launcher started more than one process and
    ``argv`` (s3prl's flags) gives no ``--local_rank`` of its own; None otherwise."""
    if "LOCAL_RANK" not in os.environ or int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    return None if "local_rank" in typed_flags(argv, "local_rank") else os.environ["LOCAL_RANK"]


def check_backend(argv: list[str]) -> None:
    """A distributed run (``--local_rank``) with ``--backend nccl`` (s3prl's default) needs CUDA."""
    typed = typed_flags(argv, "local_rank", "backend")
    if "local_rank" in typed and typed.get("backend", "nccl") == "nccl" and not torch.cuda.is_available():
        raise SettingError("--backend nccl needs CUDA GPUs; on CPUs pass --backend gloo --device cpu")


def script_torch() -> types.ModuleType:
    """``torch`` as s3prl's script should see it: on a machine without CUDA, its
    ``torch.cuda.set_device(local_rank)`` does nothing (there is no device to select)."""
    if torch.cuda.is_available():
        return torch
    return module_with(torch, cuda=module_with(torch.cuda, set_device=_no_cuda_device_to_select))


def _no_cuda_device_to_select(device) -> None:
    """torch.cuda.set_device where torch sees no CUDA: there is nothing to select."""


def ddp_on_module_device(module: torch.nn.Module, device_ids=None, **kwargs) -> DistributedDataParallel:
    """DDP as s3prl builds it, except that a module on the CPU gets no ``device_ids``."""
    on_cpu = all(parameter.device.type == "cpu" for parameter in module.parameters())
    return DistributedDataParallel(module, device_ids=None if on_cpu else device_ids, **kwargs)


@contextlib.contextmanager
def progress_on_every_rank(runner, runner_module: types.ModuleType):
    """While ``runner.train`` runs on a rank > 0, tie its "overall" progress bar to the
    optimizer's updates.

    Every rank calls ``optimizer.zero_grad()`` exactly once per update step (after the step,
    or after skipping it for a NaN gradient norm), right before rank 0 alone reaches
    ``pbar.update(1)``; on the other ranks that call advances the bar instead.
    """
    if not (dist.is_initialized() and dist.get_rank() > 0):
        yield
        return
    stock_tqdm, stock_get_optimizer = runner_module.tqdm, runner._get_optimizer
    overall_bars = []

    def tqdm_keeping_overall(*args, **kwargs):
        bar = stock_tqdm(*args, **kwargs)
        if kwargs.get("desc") == "overall":
            overall_bars.append(bar)
        return bar

    def get_optimizer(model_params):
        optimizer = stock_get_optimizer(model_params)
        stock_zero_grad = optimizer.zero_grad

        def zero_grad(*args, **kwargs):
            stock_zero_grad(*args, **kwargs)
            overall_bars[-1].update(1)

        optimizer.zero_grad = zero_grad
        return optimizer

    runner_module.tqdm, runner._get_optimizer = tqdm_keeping_overall, get_optimizer
    try:
        yield
    finally:
        runner_module.tqdm = stock_tqdm
        del runner._get_optimizer


class RankReport:
    """What one rank trained and wrote, saved to ``<folder>/rank-<r>.pt`` when training ends."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.saved: list[str] = []
        self.log_dirs: list[str] = []

    @classmethod
    def from_environment(cls) -> RankReport | None:
        folder = os.environ.get(RANK_REPORT_ENV)
        return cls(Path(folder)) if folder else None

    def recording_saves(self, save):
        """``save`` (torch.save's signature) that also records the path written."""

        def recorded_save(obj, path, *args, **kwargs):
            self.saved.append(str(path))
            return save(obj, path, *args, **kwargs)

        return recorded_save

    def recording_log_dirs(self, summary_writer):
        """``summary_writer`` (tensorboardX's SummaryWriter) that also records its log folder."""

        def recorded_writer(logdir=None, *args, **kwargs):
            self.log_dirs.append(str(logdir))
            return summary_writer(logdir, *args, **kwargs)

        return recorded_writer

    def write(self, runner) -> None:
        from s3prl.utility.helper import get_model_state

        states = {entry.name: get_model_state(entry.model) for entry in runner.all_entries if entry.trainable}
        rank = dist.get_rank() if dist.is_initialized() else 0
        self.folder.mkdir(parents=True, exist_ok=True)
        report = {"rank": rank, "pid": os.getpid(), "states": states, "saved": self.saved, "log_dirs": self.log_dirs}
        torch.save(report, self.folder / f"rank-{rank}.pt")
