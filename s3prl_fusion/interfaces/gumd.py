"""GumD: per feature dim, a Gumbel-softmax picks which layer of a member supplies it."""
from __future__ import annotations

import weakref
from typing import Sequence

import torch
import torch.nn.functional as F
from torch.optim.optimizer import register_optimizer_step_post_hook
from torch import Tensor, nn

from s3prl_fusion.errors import SettingError
from s3prl_fusion.fusion.align import check_members, check_stacks, normalize_features
from s3prl_fusion.fusion.merge import ConcatProjection
from s3prl_fusion.interfaces.run_length import RunLength

SCHEDULES = ("exponential", "linear")
ANNEAL_UPDATES_WITHOUT_RUN = 10000


def annealing_length(anneal_steps: int | None, run: RunLength) -> tuple[int, str]:
    """(optimizer updates the annealing takes, where that number comes from)."""
    if anneal_steps is not None:
        if int(anneal_steps) < 1:
            raise SettingError(f"anneal_steps={anneal_steps} must be a positive number of optimizer updates")
        return int(anneal_steps), "anneal_steps"
    if run.total_updates is not None:
        return int(run.total_updates), run.source
    return ANNEAL_UPDATES_WITHOUT_RUN, "no run length known"


def count_optimizer_steps(interface: GumbelLayerSelect) -> None:
    """Make every ``optimizer.step()`` of any torch optimizer that holds the interface's logits
    complete one update of its schedule (``interface.complete_update()``), whoever runs the
    training loop (s3prl's runner, ESPnet, a plain loop). A batch skipped without a step (s3prl's
    CUDA out-of-memory path, a non-finite gradient) does not advance it; nor do forwards or
    gradient accumulation. The hook holds the interface weakly and goes with it."""
    reference = weakref.ref(interface)
    logits = {id(parameter) for parameter in interface.logits}

    def after_step(optimizer: torch.optim.Optimizer, args, kwargs) -> None:
        target = reference()
        if target is not None and any(id(parameter) in logits for group in optimizer.param_groups for parameter in group["params"]):
            target.complete_update()

    handle = register_optimizer_step_post_hook(after_step)
    weakref.finalize(interface, handle.remove)


class GumbelLayerSelect(nn.Module):
    """Gumbel-softmax layer selection per feature dim (Chiu et al., Interspeech 2024).

    Member ``i`` has logits ``(L_i, D_i)``, zero at start. Each forward draws, for every
    feature dim ``d``, layer weights ``gumbel_softmax(logits[:, d], tau)`` over the member's
    ``L_i`` layers and outputs ``sum_l w[l, d] * stack[l, ..., d]``. One draw per forward,
    shared by all utterances and frames of the batch; the noise comes from torch's global RNG,
    so a seeded run is reproducible. In eval mode the selection is the hard argmax over layers,
    without noise. Several members: concatenate and project, ``Linear(sum D_i -> output_dim)``;
    a single member: no projection.

    The temperature follows the schedule from ``tau_start`` to ``tau_end`` over the first
    ``anneal_steps`` optimizer updates, then stays at ``tau_end``: the first update's forwards
    use ``tau_start``, the ``anneal_steps``-th update's use ``tau_end`` exactly. Updates are the
    optimizer's steps over the logits (``count_optimizer_steps``), not forwards: gradient
    accumulation and batches skipped without a step do not move the schedule. Completed updates
    are counted in the buffer ``step``, which is saved in the state dict, so a resumed run
    continues the schedule.

    Settings:
        tau_start, tau_end: temperatures at the first and from the ``anneal_steps``-th
            optimizer update on.
        anneal_steps: optimizer updates the annealing takes; default (None): the whole run,
            ``run.total_updates`` (s3prl's ``runner.total_steps``), or
            ``ANNEAL_UPDATES_WITHOUT_RUN`` where no run length is known.
        schedule: ``"exponential"`` (geometric from tau_start to tau_end) or ``"linear"``.
        straight_through: training forwards use hard one-hot samples with soft gradients
            instead of soft samples.
        normalize: parameter-free layer norm over D of every layer first.
        output_dim: projection size when fusing several members (default ``max D_i``).

    ``run``: the training run's length (not a setting: the featurizer passes the runner's).
    ``anneal_updates`` is the annealing length in effect; a checkpoint's must match it
    (``checked_setup``), and ``anneal_steps`` is the setting it comes from (``SCHEDULE_SETTINGS``).
    """

    SCHEDULE_SETTINGS = ("anneal_steps",)

    def __init__(
        self,
        layer_counts: Sequence[int],
        dims: Sequence[int],
        tau_start: float = 2.0,
        tau_end: float = 0.1,
        anneal_steps: int | None = None,
        schedule: str = "exponential",
        straight_through: bool = False,
        normalize: bool = False,
        output_dim: int | None = None,
        run: RunLength | None = None,
    ):
        super().__init__()
        check_members(layer_counts, dims)
        if not (tau_start > 0 and tau_end > 0):
            raise SettingError(
                f"tau_start={tau_start} and tau_end={tau_end} must both be positive temperatures"
            )
        run = run or RunLength()
        if schedule not in SCHEDULES:
            raise SettingError(f"schedule={schedule!r} is not one of {list(SCHEDULES)}")
        self.layer_counts = [int(count) for count in layer_counts]
        self.dims = [int(dim) for dim in dims]
        self.tau_start = float(tau_start)
        self.tau_end = float(tau_end)
        self.anneal_updates, self.anneal_updates_source = annealing_length(anneal_steps, run)
        self.schedule = schedule
        self.straight_through = bool(straight_through)
        self.normalize = bool(normalize)
        self.logits = nn.ParameterList(
            nn.Parameter(torch.zeros(count, dim)) for count, dim in zip(self.layer_counts, self.dims)
        )
        self.register_buffer("step", torch.zeros((), dtype=torch.long))
        self.merge = ConcatProjection(self.dims, output_dim)
        self.output_dim = self.merge.output_dim
        count_optimizer_steps(self)

    @property
    def temperature(self) -> float:
        """The temperature of the optimizer update in progress (``step`` updates completed)."""
        progress = 1.0 if self.anneal_updates == 1 else min(int(self.step) / (self.anneal_updates - 1), 1.0)
        if self.schedule == "linear":
            return self.tau_start + (self.tau_end - self.tau_start) * progress
        return self.tau_start * (self.tau_end / self.tau_start) ** progress

    def _layer_weights(self, logits: Tensor, temperature: float) -> Tensor:
        """``(L, D)`` logits -> ``(L, D)`` weights, each column summing to 1 over the layer axis."""
        if self.training:
            return F.gumbel_softmax(logits, tau=temperature, hard=self.straight_through, dim=0)
        choice = logits.argmax(dim=0)
        return F.one_hot(choice, logits.shape[0]).T.to(logits.dtype)

    def forward(self, stacks: Sequence[Tensor]) -> Tensor:
        """N stacks ``(L_i, B, T, D_i)`` (layer axis first) -> ``(B, T, output_dim)``."""
        check_stacks(stacks, self.layer_counts, self.dims)
        temperature = self.temperature
        selected = []
        for stack, logits in zip(stacks, self.logits):
            if self.normalize:
                stack = normalize_features(stack)
            weights = self._layer_weights(logits, temperature)
            selected.append((weights[:, None, None, :] * stack).sum(dim=0))
        return self.merge(selected)

    @torch.no_grad()
    def complete_update(self) -> None:
        """One optimizer update of the logits is done: the next forwards use the next temperature."""
        self.step += 1

    def checked_setup(self) -> dict:
        """What a checkpoint must share with this interface beyond its settings: the annealing
        length in optimizer updates (``runner.total_steps`` where ``anneal_steps`` is not set)."""
        return {"anneal_updates": self.anneal_updates}

    def describe(self) -> list[str]:
        """Start-up lines: the temperature schedule in optimizer updates."""
        return [
            f"gumd temperature {self.tau_start:g} -> {self.tau_end:g} ({self.schedule}) over {self.anneal_updates:,} "
            f"optimizer updates ({self.anneal_updates_source}), counted at each optimizer step"
        ]

    @torch.no_grad()
    def learned_layer_weights(self) -> list[Tensor]:
        """Per member ``(L_i,)``: the fraction of feature dims whose argmax picks each layer."""
        return [
            torch.bincount(logits.argmax(dim=0), minlength=logits.shape[0]).float() / logits.shape[1]
            for logits in self.logits
        ]
