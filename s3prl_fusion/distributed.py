"""s3prl's multi-process training on CPUs (gloo) and under ``torchrun``, without editing s3prl.

s3prl's ``run_downstream.py`` starts distributed training only from ``--local_rank N`` (the
old ``torch.distributed.launch``), then calls ``torch.cuda.set_device(N)``, and its Runner wraps
trainable modules in ``DDP(module, device_ids=[N])``. ``patch_distributed`` (called once when
s3prl's runner module is imported) makes that work on CPU and with ``torchrun``:

- launched by ``torchrun`` (``LOCAL_RANK`` / ``WORLD_SIZE`` in the environment, no
  ``--local_rank`` flag), the default process group is initialised here, with the
  ``--backend`` of the command line, before s3prl's main reads the flags; s3prl then sees an
  initialised group (only rank 0 writes logs and checkpoints) and ``args.local_rank`` is set
  from ``LOCAL_RANK`` when the Runner is built, so checkpoints record a distributed run;
- on a machine without CUDA, ``torch.cuda.set_device`` (called by s3prl for ``--local_rank``)
  has no device to select and becomes a no-op;
- modules whose parameters are on the CPU are wrapped in DDP without ``device_ids``;
- ranks > 0 advance the Runner's step counter on every optimizer update: s3prl's
  ``Runner.train`` advances it (``pbar.update``) after a ``continue`` that only rank 0 passes,
  so the other ranks would never leave the training loop and fail once rank 0 exits.

    torchrun --nproc_per_node 2 -m s3prl_fusion.run_downstream -m train ... --backend gloo --device cpu

``S3PRL_FUSION_RANK_REPORT=DIR`` makes every rank save ``DIR/rank-<r>.pt`` when training ends:
its trainable modules' weights and the checkpoint and log folders it wrote, so a launcher can
check that DDP kept the ranks identical and that only rank 0 wrote files.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from s3prl_fusion.s3prl_flags import typed_flags

RANK_REPORT_ENV = "S3PRL_FUSION_RANK_REPORT"


def launched_by_torchrun() -> bool:
    return "LOCAL_RANK" in os.environ and int(os.environ.get("WORLD_SIZE", "1")) > 1


def _command_line_backend(argv: list[str]) -> tuple[str, str]:
    """(--backend, --device) from s3prl's flags, with s3prl's defaults."""
    typed = typed_flags(argv, "backend", "device")
    return typed.get("backend", "nccl"), typed.get("device", "cuda")


def init_process_group_from_torchrun(argv: list[str]) -> None:
    """Initialise the default process group from torchrun's environment and s3prl's flags."""
    backend, device = _command_line_backend(argv)
    if backend == "nccl" and not torch.cuda.is_available():
        raise SystemExit("--backend nccl needs CUDA GPUs; on CPUs pass --backend gloo --device cpu")
    if torch.cuda.is_available() and device.startswith("cuda"):
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    dist.init_process_group(backend)


def ddp_on_module_device(module: torch.nn.Module, device_ids=None, **kwargs) -> DistributedDataParallel:
    """DDP as s3prl builds it, except that a module on the CPU gets no ``device_ids``."""
    on_cpu = all(parameter.device.type == "cpu" for parameter in module.parameters())
    return DistributedDataParallel(module, device_ids=None if on_cpu else device_ids, **kwargs)


def _no_cuda_device_to_select(device) -> None:
    """torch.cuda.set_device where torch sees no CUDA: there is nothing to select."""


def _write_rank_report(runner, folder: Path, saved: list[str], log_dirs: list[str]) -> None:
    from s3prl.utility.helper import get_model_state

    states = {entry.name: get_model_state(entry.model) for entry in runner.all_entries if entry.trainable}
    rank = dist.get_rank() if dist.is_initialized() else 0
    folder.mkdir(parents=True, exist_ok=True)
    torch.save({"rank": rank, "pid": os.getpid(), "states": states, "saved": saved, "log_dirs": log_dirs}, folder / f"rank-{rank}.pt")


def _record_rank_writes(runner_module, folder: Path) -> None:
    """Wrap the runner's checkpoint save, log writer and train to produce the rank report."""
    saved, log_dirs = [], []
    runner_torch, stock_writer = runner_module.torch, runner_module.SummaryWriter
    stock_save, stock_train = runner_torch.save, runner_module.Runner.train

    def save(obj, path, *args, **kwargs):
        saved.append(str(path))
        return stock_save(obj, path, *args, **kwargs)

    def summary_writer(logdir=None, *args, **kwargs):
        log_dirs.append(str(logdir))
        return stock_writer(logdir, *args, **kwargs)

    def train(self):
        stock_train(self)
        _write_rank_report(self, folder, saved, log_dirs)

    runner_torch.save = save
    runner_module.SummaryWriter = summary_writer
    runner_module.Runner.train = train


def _advance_progress_on_every_rank(runner_module) -> None:
    """On ranks > 0, tie Runner.train's "overall" progress bar to the optimizer's updates.

    Every rank calls ``optimizer.zero_grad()`` exactly once per update step (after the step,
    or after skipping it for a NaN gradient norm), right before rank 0 alone reaches
    ``pbar.update(1)``; on the other ranks that call advances the bar instead.
    """
    stock_train = runner_module.Runner.train

    def train(self):
        if not (dist.is_initialized() and dist.get_rank() > 0):
            return stock_train(self)
        stock_tqdm, stock_get_optimizer = runner_module.tqdm, self._get_optimizer
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

        runner_module.tqdm, self._get_optimizer = tqdm_keeping_overall, get_optimizer
        try:
            return stock_train(self)
        finally:
            runner_module.tqdm = stock_tqdm
            del self._get_optimizer

    runner_module.Runner.train = train


def patch_distributed(runner_module) -> None:
    """Make s3prl's distributed path work on CPU/gloo and under torchrun (see module docstring)."""
    runner_module.DDP = ddp_on_module_device
    if not torch.cuda.is_available():
        torch.cuda.set_device = _no_cuda_device_to_select
    if launched_by_torchrun() and not any(arg.startswith("--local_rank") for arg in sys.argv) and not dist.is_initialized():
        init_process_group_from_torchrun(sys.argv[1:])
        stock_init = runner_module.Runner.__init__

        def __init__(self, args, config):
            if args.local_rank is None:
                args.local_rank = int(os.environ["LOCAL_RANK"])
            stock_init(self, args, config)

        runner_module.Runner.__init__ = __init__
    _advance_progress_on_every_rank(runner_module)
    if os.environ.get(RANK_REPORT_ENV):
        _record_rank_writes(runner_module, Path(os.environ[RANK_REPORT_ENV]))
