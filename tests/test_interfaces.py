"""Interfaces fusing N stacks (L_i, B, T, D_i) into (B, T, output_dim), and their registry."""
import io

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from s3prl_fusion.errors import UnknownNameError
from s3prl_fusion.interfaces import (
    INTERFACES,
    CHConv,
    GumbelLayerSelect,
    HConv,
    HierarchicalConv,
    RunLength,
    WeightedSum,
    build_interface,
    count_parameters,
    parameter_counts_by_projection,
)
from s3prl_fusion.interfaces.hconv import conv_layer_lengths, layer_axis_conv

MEMBERS = {
    1: ([13], [24]),
    2: ([4, 13], [24, 32]),
    3: ([4, 13, 7], [24, 32, 16]),
}


def random_stacks(layer_counts, dims, batch=2, frames=3, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(count, batch, frames, dim, generator=generator) for count, dim in zip(layer_counts, dims)]


def build(name, members, **settings):
    torch.manual_seed(0)
    return build_interface(name, *MEMBERS[members], **settings)


@pytest.mark.parametrize(
    "num_layers, dim, lengths, output_dim, parameters",
    [(13, 768, [13, 5, 2], 768, 4_424_832), (25, 1024, [25, 9, 3], 1023, 6_990_165)],
)
def test_hierarchical_conv_matches_published_sizes(num_layers, dim, lengths, output_dim, parameters):
    with torch.device("meta"):
        conv = HierarchicalConv(num_layers, dim)
    assert conv.layer_lengths == lengths
    assert conv.output_dim == output_dim
    assert count_parameters(conv) == parameters


def test_hierarchical_conv_flattens_channel_major_per_frame():
    torch.manual_seed(0)
    conv = HierarchicalConv(13, 8)
    stack = torch.randn(13, 2, 3, 8)
    out = conv(stack)
    assert out.shape == (2, 3, 8)
    hidden = stack[:, 1, 2].T.unsqueeze(0)
    for layer in conv.convs:
        hidden = F.relu(layer(hidden))
    assert hidden.shape == (1, 4, 2)
    assert torch.count_nonzero(hidden) > 2
    torch.testing.assert_close(out[1, 2], hidden.reshape(-1))
    torch.testing.assert_close(out[1, 2, 1], hidden[0, 0, 1])


@pytest.mark.parametrize(
    "num_layers, kernel_size, stride", [(13, 5, 3), (25, 5, 3), (5, 5, 3), (13, 4, 2), (9, 3, 3), (13, 7, 2)]
)
def test_layer_axis_conv_equals_conv1d_with_zero_padding(num_layers, kernel_size, stride):
    torch.manual_seed(0)
    conv = nn.Conv1d(6, 5, kernel_size, stride=stride, padding=kernel_size // 2).double()
    hidden = torch.randn(num_layers, 7, 6, dtype=torch.float64, requires_grad=True)
    reference = conv(hidden.permute(1, 2, 0)).permute(2, 0, 1)
    out = torch.stack(layer_axis_conv(hidden.unbind(0), conv))
    assert out.shape == reference.shape
    torch.testing.assert_close(out, reference, rtol=1e-12, atol=1e-12)
    upstream_gradient = torch.randn_like(out)
    expected = torch.autograd.grad(reference, [hidden, conv.weight, conv.bias], upstream_gradient)
    got = torch.autograd.grad(out, [hidden, conv.weight, conv.bias], upstream_gradient)
    for mine, theirs in zip(got, expected):
        torch.testing.assert_close(mine, theirs, rtol=1e-12, atol=1e-12)


def test_hierarchical_conv_rejects_too_few_layers():
    assert conv_layer_lengths(3, 5, 3) == [3, 1]
    with pytest.raises(ValueError, match="stride=3"):
        HierarchicalConv(2, 8)
    with pytest.raises(ValueError, match="dim"):
        HierarchicalConv(25, 2)


@pytest.mark.parametrize("name", sorted(INTERFACES))
@pytest.mark.parametrize("members", [1, 2, 3])
def test_every_parameter_gets_a_gradient(name, members):
    interface = build(name, members)
    interface.train()
    out = interface(random_stacks(*MEMBERS[members]))
    assert out.shape == (2, 3, interface.output_dim)
    out.pow(2).sum().backward()
    for parameter_name, parameter in interface.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, parameter_name


@pytest.mark.parametrize("name", ["ws", "gumd"])
@pytest.mark.parametrize("members", [1, 3])
def test_learned_layer_weights_are_distributions_over_each_members_layers(name, members):
    weights = build(name, members).learned_layer_weights()
    layer_counts = MEMBERS[members][0]
    assert [w.shape for w in weights] == [(count,) for count in layer_counts]
    for vector in weights:
        assert (vector >= 0).all()
        torch.testing.assert_close(vector.sum(), torch.tensor(1.0))


@pytest.mark.parametrize("name", sorted(INTERFACES))
def test_state_dict_round_trip_reproduces_outputs(name):
    trained = build(name, 3)
    with torch.no_grad():
        for parameter in trained.parameters():
            parameter.add_(torch.randn_like(parameter))
    trained.train()
    trained(random_stacks(*MEMBERS[3]))
    buffer = io.BytesIO()
    torch.save(trained.state_dict(), buffer)
    buffer.seek(0)
    torch.manual_seed(1)
    restored = build_interface(name, *MEMBERS[3])
    restored.load_state_dict(torch.load(buffer))
    trained.eval()
    restored.eval()
    stacks = random_stacks(*MEMBERS[3], seed=5)
    assert torch.equal(trained(stacks), restored(stacks))


def test_single_member_weighted_sum_is_s3prls_featurizer_math():
    interface = WeightedSum([5], [6], normalize=True)
    with torch.no_grad():
        interface.weights[0].copy_(torch.randn(5))
    stack = torch.randn(5, 2, 3, 6)
    normalized = F.layer_norm(stack, (6,))
    expected = (F.softmax(interface.weights[0], dim=-1).view(5, 1, 1, 1) * normalized).sum(dim=0)
    assert interface.output_dim == 6
    torch.testing.assert_close(interface([stack]), expected)
    assert count_parameters(interface) == 5


def test_weighted_sum_fusion_projects_to_the_chosen_dim():
    interface = WeightedSum([4, 13], [24, 32], output_dim=10)
    assert interface.output_dim == 10
    assert interface(random_stacks([4, 13], [24, 32])).shape == (2, 3, 10)
    with pytest.raises(ValueError, match="output_dim"):
        WeightedSum([4], [24], output_dim=10)


def gumbel_training_step(interface, optimizer, stacks, forwards: int = 1, step: bool = True) -> list[float]:
    """``forwards`` training forwards and backwards (gradient accumulation), then an optimizer
    step unless ``step`` is false (a batch skipped as s3prl skips one on CUDA out of memory:
    ``zero_grad`` without a step); the temperatures the forwards used."""
    temperatures = []
    for _ in range(forwards):
        temperatures.append(interface.temperature)
        interface(stacks).sum().backward()
    if step:
        optimizer.step()
    optimizer.zero_grad()
    return temperatures


def test_gumbel_temperature_anneals_and_stops_at_tau_end():
    for schedule in ("exponential", "linear"):
        interface = GumbelLayerSelect([3], [4], tau_start=2.0, tau_end=0.5, anneal_steps=4, schedule=schedule)
        optimizer = torch.optim.SGD(interface.parameters(), lr=0.1)
        stacks = random_stacks([3], [4])
        temperatures = [gumbel_training_step(interface, optimizer, stacks)[0] for _ in range(6)]
        assert temperatures[0] == 2.0  # the first update
        assert all(a > b for a, b in zip(temperatures[:3], temperatures[1:4]))
        assert temperatures[3] == temperatures[4] == temperatures[5] == pytest.approx(0.5)  # the 4th update on
        interface.eval()
        interface(stacks)
        assert int(interface.step) == 6


def test_gumbel_counts_optimizer_updates_not_forwards_nor_skipped_batches():
    interface = GumbelLayerSelect([3], [4], tau_start=2.0, tau_end=0.5, run=RunLength(total_updates=3))
    optimizer = torch.optim.Adam(interface.parameters(), lr=0.1)
    unrelated = torch.optim.SGD([nn.Parameter(torch.zeros(2))], lr=0.1)
    stacks = random_stacks([3], [4])
    temperatures = gumbel_training_step(interface, optimizer, stacks, forwards=4)
    temperatures += gumbel_training_step(interface, optimizer, stacks, forwards=2, step=False)  # skipped: no update
    unrelated.step()  # another optimizer's step is no update of the logits
    temperatures += gumbel_training_step(interface, optimizer, stacks, forwards=4)
    temperatures += gumbel_training_step(interface, optimizer, stacks, forwards=4)
    temperatures += gumbel_training_step(interface, optimizer, stacks, forwards=2, step=False)
    assert temperatures[:4] == [2.0] * 4 and temperatures[4:10] == [pytest.approx(1.0)] * 6  # the skipped batch's too
    assert temperatures[10:] == [pytest.approx(0.5)] * 6
    assert int(interface.step) == 3  # three optimizer steps over eighteen forwards
    assert interface.describe() == [
        "gumd temperature 2 -> 0.5 (exponential) over 3 optimizer updates (runner.total_steps), counted at each optimizer step"
    ]
    assert build_interface("gumd", [3], [4], anneal_steps=7, run=RunLength(3)).anneal_updates == 7


def test_gumbel_eval_is_deterministic_hard_selection_per_dim():
    interface = GumbelLayerSelect([5], [6])
    with torch.no_grad():
        interface.logits[0].copy_(torch.randn(5, 6))
    interface.eval()
    stack = torch.randn(5, 2, 3, 6)
    choice = interface.logits[0].argmax(dim=0)
    expected = stack.gather(0, choice.view(1, 1, 1, 6).expand(1, 2, 3, 6)).squeeze(0)
    assert torch.equal(interface([stack]), expected)
    assert torch.equal(interface([stack]), expected)
    counts = torch.bincount(choice, minlength=5).float() / 6
    torch.testing.assert_close(interface.learned_layer_weights()[0], counts)


def test_gumbel_training_is_reproducible_under_a_seed_and_soft():
    interface = GumbelLayerSelect([5], [6])
    stack = random_stacks([5], [6])
    torch.manual_seed(3)
    first = interface(stack)
    interface.step.zero_()
    torch.manual_seed(3)
    assert torch.equal(first, interface(stack))
    hard = interface.eval()(stack)
    assert not torch.equal(first, hard)


def test_gumbel_step_survives_state_dict_round_trip():
    interface = GumbelLayerSelect([3], [4], anneal_steps=10)
    optimizer = torch.optim.SGD(interface.parameters(), lr=0.1)
    for _ in range(3):
        gumbel_training_step(interface, optimizer, random_stacks([3], [4]))
    restored = GumbelLayerSelect([3], [4], anneal_steps=10)
    restored.load_state_dict(interface.state_dict())
    assert int(restored.step) == 3
    assert restored.temperature == interface.temperature < 2.0


def test_hconv_add_fusion_interpolates_or_rejects_mismatched_dims():
    interface = HConv([4, 13], [24, 32])
    assert interface.output_dim == 32
    with pytest.raises(ValueError, match=r"\[24, 32\].*match_dims: interpolate"):
        HConv([4, 13], [24, 32], match_dims="error")


def test_single_member_hconv_is_plain_hierarchical_conv():
    torch.manual_seed(0)
    interface = HConv([13], [8], normalize=True)
    plain = HierarchicalConv(13, 8, normalize=True)
    plain.load_state_dict(interface.conv.state_dict())
    stack = torch.randn(13, 2, 3, 8)
    torch.testing.assert_close(interface([stack]), plain(stack))


def test_chconv_projections_and_their_parameter_counts():
    with torch.device("meta"):
        linear = CHConv([13, 13], [768, 768])
        none = CHConv([13, 13], [768, 768], projection="none")
    counts = parameter_counts_by_projection([13, 13], [768, 768])
    assert counts == {"linear": count_parameters(linear), "none": count_parameters(none)}
    assert counts["linear"] == 1536 * 768 + 768 + 4_424_832
    assert counts["none"] > counts["linear"]
    assert linear.output_dim == 768 and none.output_dim == 1536
    with pytest.raises(ValueError, match="projection_dim"):
        CHConv([13], [8], projection="none", projection_dim=4)


def test_forward_rejects_stacks_that_do_not_match_the_members():
    interface = build("ws", 2)
    with pytest.raises(ValueError, match="layer_counts and dims"):
        interface(random_stacks([4, 13], [24, 16]))
    with pytest.raises(ValueError, match="align_frames"):
        interface([torch.randn(4, 2, 3, 24), torch.randn(13, 2, 4, 32)])


def test_registry_names_the_nearest_interface_and_setting():
    with pytest.raises(UnknownNameError, match=r"'hcon'.*ws, gumd, hconv, chconv\. Did you mean hconv"):
        build_interface("hcon", [13], [8])
    with pytest.raises(UnknownNameError, match=r"'tau_star'.*anneal_steps.*Did you mean tau_start") as raised:
        build_interface("gumd", [13], [8], tau_star=1.0)
    assert "run" not in str(raised.value).split("valid settings: ")[1].split(". Did")[0].split(", ")  # the run length is not a setting
    assert isinstance(build_interface("chconv", [4, 13], [8, 8], projection="none"), CHConv)


def test_count_parameters_skips_frozen_parameters():
    interface = WeightedSum([4, 13], [24, 32])
    interface.merge.projection.weight.requires_grad_(False)
    assert count_parameters(interface) == 4 + 13 + 32
