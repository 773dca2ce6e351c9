"""The per-layer sensitivity of an interface's output, against the exact Jacobian."""
from __future__ import annotations

import math

import pytest
import torch

from s3prl_fusion.interfaces import CHConv, HConv, WeightedSum
from s3prl_fusion.interfaces.layer_sensitivity import layer_sensitivities, sensitivity_shares


def exact_sensitivities(interface, stacks) -> list[torch.Tensor]:
    """``sqrt(mean_t rms(x_il(t))^2 ||J_il(t)||_F^2)`` from the full Jacobian of every output frame."""
    jacobians = torch.autograd.functional.jacobian(lambda *inputs: interface(list(inputs)), tuple(stacks), vectorize=True)
    values = []
    for stack, jacobian in zip(stacks, jacobians):
        frames = stack.size(2)
        # jacobian: (1, T, O, L, 1, T, D); frame t of the output against frame t of each layer
        per_frame = torch.stack([jacobian[0, t, :, :, 0, t, :].pow(2).sum(dim=(0, 2)) for t in range(frames)], dim=1)  # (L, T)
        values.append((per_frame * stack.pow(2).mean(dim=-1)[:, 0]).mean(dim=1).sqrt())
    return values


def test_estimate_matches_the_exact_jacobian_and_separates_layers_one_tap_reads():
    torch.manual_seed(0)
    interface = HConv([5], [8]).eval()
    # layer scales differ, as the layers of real models do
    stacks = [torch.randn(5, 1, 160, 8) * torch.tensor([1.0, 3.0, 0.5, 2.0, 1.0]).view(5, 1, 1, 1)]
    estimated, frames = layer_sensitivities(interface, [stacks])
    exact = exact_sensitivities(interface, stacks)
    assert frames == 160
    torch.testing.assert_close(estimated[0], exact[0], rtol=0.1, atol=0)
    # layers 0 and 3 are read by kernel tap 2 alone, yet count differently
    assert abs(float(exact[0][0] - exact[0][3])) > 0.1 * float(exact[0].max())


def test_measured_over_several_utterances_and_members():
    torch.manual_seed(0)
    interface = CHConv([5, 4], [8, 6]).eval()
    utterances = [[torch.randn(5, 1, frames, 8), torch.randn(4, 1, frames, 6)] for frames in (60, 90)]
    estimated, frames = layer_sensitivities(interface, utterances)
    assert frames == 150 and [values.shape for values in estimated] == [(5,), (4,)]
    per_utterance = [exact_sensitivities(interface, stacks) for stacks in utterances]  # frame-weighted below
    for member, values in enumerate(estimated):
        squares = sum(exact[member].pow(2) * stacks[0].size(2) for exact, stacks in zip(per_utterance, utterances))
        torch.testing.assert_close(values, (squares / 150).sqrt(), rtol=0.1, atol=0)


def test_a_layer_the_output_ignores_scores_zero():
    torch.manual_seed(0)
    interface = HConv([5], [8]).eval()
    with torch.no_grad():
        interface.conv.convs[0].weight[:, :, 4] = 0  # tap 4 reads layer 2 only; other taps read layers 0..4
        interface.conv.convs[0].weight[:, :, [0, 1, 3]] = 0  # leaves tap 2: layers 0 and 3
    shares = sensitivity_shares(layer_sensitivities(interface, [[torch.randn(5, 1, 40, 8)]])[0])[0]
    assert (shares[[1, 2, 4]] == 0).all() and float(shares[[0, 3]].sum()) == pytest.approx(1.0)
    assert sensitivity_shares([torch.zeros(3)])[0].tolist() == [0.0, 0.0, 0.0]


def test_layers_that_contribute_alike_share_alike_whatever_their_scale():
    """WS adds ``w_0 x_0 + w_1 x_1``: with ``w_0 = 10 w_1`` and ``x_1`` ten times larger than ``x_0``,
    both layers put as much into the output (a plain Jacobian norm would say 10:1)."""
    interface = WeightedSum([2], [16]).eval()
    with torch.no_grad():
        interface.weights[0].copy_(torch.tensor([math.log(10.0), 0.0]))
    generator = torch.Generator().manual_seed(0)
    stacks = [torch.randn(2, 1, 200, 16, generator=generator) * torch.tensor([1.0, 10.0]).view(2, 1, 1, 1)]
    shares = sensitivity_shares(layer_sensitivities(interface, [stacks])[0])[0]
    torch.testing.assert_close(shares, torch.tensor([0.5, 0.5]), rtol=0, atol=0.03)
