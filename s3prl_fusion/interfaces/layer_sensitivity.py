"""How much an interface's output depends on each layer of each member, measured on real inputs.

An interface whose layer use cannot be read from its weights (HConv's convolutions share their
kernel taps across layers and are followed by ReLUs and more convolutions) is measured through
its whole forward pass. For member ``i``'s layer ``l`` at frame ``t``, with ``J_il(t)`` the
Jacobian of the output with respect to that layer's frame and ``x_il(t)`` its ``(D_i,)`` values:

    s_il = sqrt( mean over frames t of  rms(x_il(t))^2 * ||J_il(t)||_F^2 )

the root-mean-square change of the output when the layer is perturbed at every frame by white
noise of its own RMS. A layer the output ignores scores 0 whatever the weights that touch it, and
a layer's units do not count: scaling a layer by ``c`` and every weight reading it by ``1 / c``
leaves ``s_il`` as it was. ``||J||_F^2`` is estimated without forming ``J``: for ``v ~ N(0, I)``
over the output, ``E ||v^T J||^2 = ||J||_F^2``, and one backward pass gives ``v^T J`` for every
layer and frame at once; ``PROBES`` such ``v`` per frame are drawn from a generator seeded with 0
(torch's global one is never drawn from).
"""
from __future__ import annotations

from typing import Iterable, Sequence

import torch
from torch import Tensor, nn

PROBES = 4


def layer_sensitivities(interface: nn.Module, utterances: Iterable[Sequence[Tensor]]) -> tuple[list[Tensor], int]:
    """``utterances``: per utterance, the N member stacks ``(L_i, 1, T, D_i)`` the interface reads
    -> (per member the ``(L_i,)`` sensitivities ``s_il`` over all their frames, the frame count)."""
    squared_sums: list[Tensor] | None = None
    frames = 0
    generator = None
    for stacks in utterances:
        if generator is None:
            generator = torch.Generator(stacks[0].device).manual_seed(0)
        contributions = _squared_sensitivity_sums(interface, stacks, generator)
        squared_sums = contributions if squared_sums is None else [total + added for total, added in zip(squared_sums, contributions)]
        frames += stacks[0].size(2)
    if squared_sums is None:
        raise ValueError("layer_sensitivities needs at least one utterance")
    return [(total / frames).sqrt().float() for total in squared_sums], frames


def _squared_sensitivity_sums(interface: nn.Module, stacks: Sequence[Tensor], generator: torch.Generator) -> list[Tensor]:
    """One utterance's N stacks ``(L_i, 1, T, D_i)`` -> per member ``(L_i,)`` float64 CPU sums over
    its frames of ``rms(x_il(t))^2 * ||J_il(t)||_F^2`` (estimated with ``PROBES`` probes)."""
    inputs = [stack.detach().repeat(1, PROBES, 1, 1).requires_grad_() for stack in stacks]
    with torch.enable_grad():
        output = interface(inputs)
        probes = torch.randn(output.shape, generator=generator, device=output.device, dtype=output.dtype)
        gradients = torch.autograd.grad(output, inputs, grad_outputs=probes)
    sums = []
    for stack, gradient in zip(stacks, gradients):
        jacobian_energy = gradient.pow(2).sum(dim=-1).mean(dim=1)  # (L_i, T): ||J_il(t)||_F^2
        layer_power = stack.detach().pow(2).mean(dim=-1)[:, 0]  # (L_i, T): rms(x_il(t))^2
        sums.append((jacobian_energy * layer_power).sum(dim=-1).double().cpu())
    return sums


def sensitivity_shares(sensitivities: Sequence[Tensor]) -> list[Tensor]:
    """Per member ``(L_i,)`` sensitivities -> each layer's share of its member's total (all zero
    for a member the output does not depend on)."""
    return [values / values.sum() if values.sum() > 0 else torch.zeros_like(values) for values in sensitivities]
