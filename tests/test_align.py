"""Alignment along layers, frames and dims, and merging of stacks (L, B, T, D)."""
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from s3prl_fusion.fusion import (
    align_dims,
    align_frames,
    align_layers,
    interpolate_dims,
    interpolate_layers,
    layer_interpolation_matrix,
    merge_add,
    merge_concat,
)

FAST = settings(max_examples=30, deadline=None)
sizes = st.integers(min_value=1, max_value=6)


def padded_stack(num_layers, lengths, dim, frames=None, seed=0):
    """Random stack (L, B, T, D) with zeros beyond each utterance's length."""
    generator = torch.Generator().manual_seed(seed)
    frames = max(lengths) if frames is None else frames
    stack = torch.randn(num_layers, len(lengths), frames, dim, generator=generator)
    for utterance, length in enumerate(lengths):
        stack[:, utterance, length:] = 0
    return stack


@FAST
@given(source=sizes, target=sizes, batch=sizes, dim=sizes)
def test_interpolate_layers_shape_and_endpoints(source, target, batch, dim):
    stack = torch.randn(source, batch, 3, dim)
    out = interpolate_layers(stack, target)
    assert out.shape == (target, batch, 3, dim)
    torch.testing.assert_close(out[0], stack[0])
    if target > 1:
        torch.testing.assert_close(out[-1], stack[-1])


@FAST
@given(layers=sizes)
def test_interpolate_layers_identity_when_equal(layers):
    stack = torch.randn(layers, 2, 3, 4)
    assert torch.equal(interpolate_layers(stack, layers), stack)


def test_interpolate_layers_matches_align_corners_interpolation():
    stack = torch.randn(4, 2, 3, 5)
    out = interpolate_layers(stack, 13)
    flat = stack.permute(1, 2, 3, 0).reshape(-1, 1, 4)
    expected = F.interpolate(flat, size=13, mode="linear", align_corners=True)
    torch.testing.assert_close(out, expected.reshape(2, 3, 5, 13).permute(3, 0, 1, 2))
    # layer 4 of 13 sits exactly on source layer 1 (4 * 3 / 12 = 1)
    torch.testing.assert_close(out[4], stack[1])


def test_layer_interpolation_matrix_reproduces_interpolate_layers():
    stack = torch.randn(7, 2, 3, 4)
    matrix = layer_interpolation_matrix(7, 13)
    assert matrix.shape == (13, 7)
    torch.testing.assert_close(matrix.sum(dim=1), torch.ones(13))
    torch.testing.assert_close(
        torch.einsum("jl,lbtd->jbtd", matrix, stack), interpolate_layers(stack, 13)
    )


@FAST
@given(source=sizes, target=sizes)
def test_interpolate_dims_matches_torch(source, target):
    stack = torch.randn(2, 3, 4, source)
    out = interpolate_dims(stack, target)
    expected = F.interpolate(stack.reshape(-1, 1, source), size=target, mode="linear")
    torch.testing.assert_close(out, expected.reshape(2, 3, 4, target))


def test_align_layers_and_dims_bring_members_to_the_largest():
    stacks = [torch.randn(4, 2, 3, 6), torch.randn(13, 2, 3, 8)]
    assert [s.shape for s in align_layers(stacks)] == [(13, 2, 3, 6), (13, 2, 3, 8)]
    assert [s.shape for s in align_dims(stacks)] == [(4, 2, 3, 8), (13, 2, 3, 8)]
    assert [s.shape for s in align_dims(stacks, 5)] == [(4, 2, 3, 5), (13, 2, 3, 5)]


member_lengths = st.lists(
    st.lists(st.integers(min_value=1, max_value=9), min_size=3, max_size=3), min_size=1, max_size=3
)


@FAST
@given(lengths=member_lengths)
def test_align_frames_shapes_lengths_and_zero_padding(lengths):
    stacks = [
        padded_stack(index + 1, member, 2, frames=max(member) + index, seed=index)
        for index, member in enumerate(lengths)
    ]
    aligned, target = align_frames(stacks, [torch.tensor(member) for member in lengths])
    expected_target = [max(column) for column in zip(*lengths)]
    assert target.tolist() == expected_target
    for stack, out in zip(stacks, aligned):
        assert out.shape == (stack.shape[0], 3, max(expected_target), 2)
        for utterance, length in enumerate(expected_target):
            assert torch.count_nonzero(out[:, utterance, length:]) == 0


@FAST
@given(lengths=member_lengths)
def test_align_frames_is_independent_of_the_rest_of_the_batch(lengths):
    stacks = [padded_stack(2, member, 3, seed=index) for index, member in enumerate(lengths)]
    aligned, target = align_frames(stacks, [torch.tensor(member) for member in lengths])
    for utterance in range(3):
        alone = [stack[:, utterance : utterance + 1, : member[utterance]] for stack, member in zip(stacks, lengths)]
        alone_lengths = [torch.tensor([member[utterance]]) for member in lengths]
        aligned_alone, target_alone = align_frames(alone, alone_lengths)
        assert target_alone.tolist() == [int(target[utterance])]
        for batch_out, single_out in zip(aligned, aligned_alone):
            torch.testing.assert_close(
                batch_out[:, utterance : utterance + 1, : int(target[utterance])], single_out
            )


def test_align_frames_resamples_valid_frames_like_torch_interpolate():
    short = padded_stack(2, [3, 5], 4, seed=1)
    long = padded_stack(2, [7, 6], 4, seed=2)
    (short_out, long_out), target = align_frames([short, long], [torch.tensor([3, 5]), torch.tensor([7, 6])])
    assert target.tolist() == [7, 6]
    for utterance, (source, goal) in enumerate([(3, 7), (5, 6)]):
        valid = short[:, utterance, :source].permute(0, 2, 1)
        expected = F.interpolate(valid, size=goal, mode="linear").permute(0, 2, 1)
        torch.testing.assert_close(short_out[:, utterance, :goal], expected)
    torch.testing.assert_close(long_out[:, 0], long[:, 0])
    torch.testing.assert_close(long_out[:, 1, :6], long[:, 1, :6])


@FAST
@given(lengths=st.lists(st.integers(min_value=1, max_value=8), min_size=1, max_size=4))
def test_align_frames_identity_when_lengths_equal(lengths):
    first = padded_stack(2, lengths, 3, seed=1)
    second = padded_stack(4, lengths, 5, seed=2)
    length_tensor = torch.tensor(lengths)
    (first_out, second_out), target = align_frames([first, second], [length_tensor, length_tensor])
    assert torch.equal(target, length_tensor)
    assert torch.equal(first_out, first)
    assert torch.equal(second_out, second)


def test_align_frames_repeats_a_single_frame():
    one = padded_stack(1, [1], 2)
    four = padded_stack(1, [4], 2)
    (one_out, _), _ = align_frames([one, four], [torch.tensor([1]), torch.tensor([4])])
    torch.testing.assert_close(one_out, one.expand(1, 1, 4, 2))


def test_align_frames_rejects_lengths_beyond_the_frame_axis():
    with pytest.raises(ValueError, match="lengths\\[0\\]"):
        align_frames([torch.zeros(1, 1, 3, 2)], [torch.tensor([4])])


def test_merge_add_sums_and_names_mismatched_dims():
    first, second = torch.randn(3, 2, 4, 5), torch.randn(3, 2, 4, 5)
    torch.testing.assert_close(merge_add([first, second]), first + second)
    with pytest.raises(ValueError, match=r"\[5, 6\].*match_dims: interpolate.*chconv"):
        merge_add([first, torch.randn(3, 2, 4, 6)])
    with pytest.raises(ValueError, match="align_layers"):
        merge_add([first, torch.randn(4, 2, 4, 5)])


def test_merge_concat_stacks_features():
    first, second = torch.randn(3, 2, 4, 5), torch.randn(3, 2, 4, 2)
    merged = merge_concat([first, second])
    assert merged.shape == (3, 2, 4, 7)
    assert torch.equal(merged[..., 5:], second)
    with pytest.raises(ValueError, match="align_frames"):
        merge_concat([first, torch.randn(3, 2, 5, 2)])
