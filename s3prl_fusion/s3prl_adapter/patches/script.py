"""s3prl's ``run_downstream.py``: its arguments checked and resolved before it parses them, and
what it sees of ``torch`` on a machine without CUDA.

It runs as the plugin's entry points' callee (``run_s3prl_script``) or as the user's own script
in an s3prl checkout (``python run_downstream.py``, ``python -m s3prl.run_downstream``), where
no call of it can be wrapped: there ``patch_running_script`` does the same from the runner's
import hook, which fires while the script imports s3prl, before its ``main`` parses anything.

Arguments, in order:
- ``-a`` (auto-resume): where the experiment folder holds checkpoints, becomes ``-e`` with the
  newest intact one (s3prl would take the newest by step, damaged or not);
- ``-e``: a folder becomes its newest intact checkpoint; a folder or file with nothing to load
  stops with a message (``s3prl_fusion.experiments.resume``);
- under ``torchrun``: ``--local_rank $LOCAL_RANK``, and ``--backend nccl`` without CUDA stops
  with a message (``distributed.py``).
"""
from __future__ import annotations

import sys
import types
from pathlib import Path

from s3prl_fusion.experiments.checkpoints import checkpoint_step
from s3prl_fusion.experiments.resume import checked_past_experiment, newest_intact_checkpoint
from s3prl_fusion.s3prl_adapter.patches.distributed import check_backend, script_torch, torchrun_local_rank
from s3prl_fusion.s3prl_adapter.internals.targets import PatchTarget, check_targets
from s3prl_fusion.experiments.command_line import typed_flags

SCRIPT_MODULE = "s3prl.run_downstream"
SCRIPT_NAME = "run_downstream.py"
DEFAULT_EXPDIR = "result/downstream/{expname}"  # s3prl's experiment folder when -p is not given
AUTO_RESUME_FLAGS = ("-a", "--auto_resume")

SCRIPT_TARGETS = (
    PatchTarget(
        "-a and -e resolved to the newest intact checkpoint before the script reads them", SCRIPT_MODULE,
        source_contains=("args.past_exp = args.expdir", "glob.glob(f'{args.past_exp}/states-*.ckpt')", "f'result/downstream/{args.expname}'"),
    ),
    PatchTarget(
        "--local_rank from torchrun's LOCAL_RANK; torch.cuda.set_device does nothing without CUDA", SCRIPT_MODULE,
        source_contains=("'--local_rank'", "torch.cuda.set_device(args.local_rank)", "torch.distributed.init_process_group(args.backend)"),
    ),
)


def checked_script_arguments(argv: list[str]) -> list[str]:
    """s3prl's arguments as its script should parse them (see the module docstring); raises a
    UserError naming the flag, folder or file when there is nothing to run."""
    arguments = checked_past_experiment(auto_resumed(argv))
    local_rank = torchrun_local_rank(arguments)
    if local_rank is not None:
        arguments = [*arguments, "--local_rank", local_rank]
    check_backend(arguments)
    return arguments


def auto_resumed(argv: list[str]) -> list[str]:
    """``argv`` without ``-a``, and with ``-e <newest intact checkpoint>`` where the experiment
    folder (``-p``, else s3prl's ``result/downstream/<-n>``) holds ``states-<step>.ckpt`` files."""
    typed = typed_flags(argv, "auto_resume", "expdir", "expname")
    if not typed.get("auto_resume"):
        return list(argv)
    arguments = [argument for argument in argv if argument not in AUTO_RESUME_FLAGS]
    expdir = Path(typed.get("expdir") or DEFAULT_EXPDIR.format(expname=typed.get("expname")))
    if not any(checkpoint_step(path) is not None for path in expdir.glob("states-*.ckpt")):
        return arguments
    return [*arguments, "-e", str(newest_intact_checkpoint(expdir))]


def patch_script_module(module: types.ModuleType) -> None:
    """What s3prl's script sees of ``torch`` (once per module)."""
    if getattr(module, "_s3prl_fusion_patched", False):
        return
    check_targets(module, SCRIPT_TARGETS)
    module.torch = script_torch()
    module._s3prl_fusion_patched = True


def run_s3prl_script(argv: list[str]) -> None:
    """Run s3prl's ``run_downstream.main`` on ``argv`` (s3prl's flags), checked first."""
    sys.argv = [SCRIPT_NAME, *checked_script_arguments(argv)]
    from s3prl import run_downstream

    patch_script_module(run_downstream)
    run_downstream.main()


def _is_s3prl_script(module) -> bool:
    """Whether ``module`` (the running ``__main__``) is s3prl's ``run_downstream.py``: run as a
    script (a checkout, ``python run_downstream.py``) or as ``python -m s3prl.run_downstream``."""
    spec = getattr(module, "__spec__", None)
    if spec is not None:
        return spec.name == SCRIPT_MODULE
    return Path(getattr(module, "__file__", None) or "").name == SCRIPT_NAME


def patch_running_script() -> None:
    """When s3prl's own script is the running ``__main__``: check and resolve its ``sys.argv``,
    and patch what it sees of ``torch``."""
    script = sys.modules.get("__main__")
    if _is_s3prl_script(script):
        sys.argv[1:] = checked_script_arguments(sys.argv[1:])
        patch_script_module(script)
