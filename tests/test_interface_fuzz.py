"""Property tests over interface inputs: random member counts, layer counts, dims, batch sizes and lengths."""
from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from s3prl_fusion.fusion.align import align_frames
from s3prl_fusion.interfaces import INTERFACES, build_interface

members = st.lists(st.tuples(st.integers(3, 14), st.sampled_from([8, 12, 16])), min_size=1, max_size=3)


@settings(max_examples=30, deadline=None)
@given(
    name=st.sampled_from(sorted(INTERFACES)),
    shapes=members,
    batch=st.integers(1, 3),
    frames=st.lists(st.integers(1, 9), min_size=3, max_size=3),
    seed=st.integers(0, 2**16),
)
def test_any_member_set_gives_finite_features_of_the_right_shape(name, shapes, batch, frames, seed):
    torch.manual_seed(seed)
    layer_counts = [layers for layers, _ in shapes]
    dims = [dim for _, dim in shapes]
    stacks, lengths = [], []
    for (layers, dim), length in zip(shapes, frames):
        member_lengths = torch.randint(1, length + 1, (batch,))
        stack = torch.randn(layers, batch, int(member_lengths.max()), dim)
        stack *= (torch.arange(stack.size(2))[None, :] < member_lengths[:, None]).float()[None, :, :, None]
        stacks.append(stack)
        lengths.append(member_lengths)
    aligned, aligned_lengths = align_frames(stacks, lengths)
    interface = build_interface(name, layer_counts, dims)
    output = interface(aligned)
    assert output.shape == (batch, int(aligned_lengths.max()), interface.output_dim)
    assert torch.isfinite(output).all()
    for shares in interface.learned_layer_weights() if hasattr(interface, "learned_layer_weights") else []:
        assert torch.isclose(shares.sum(), torch.tensor(1.0), atol=1e-5) and (shares >= 0).all()


@settings(max_examples=15, deadline=None)
@given(name=st.sampled_from(sorted(INTERFACES)), extra=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_padding_does_not_change_an_utterance(name, extra, seed):
    """An utterance's frames do not depend on how much padding its batch adds (frames do not mix)."""
    torch.manual_seed(seed)
    interface = build_interface(name, [5, 4], [12, 8]).eval()
    stacks = [torch.randn(5, 1, 7, 12), torch.randn(4, 1, 7, 8)]
    padded = [torch.cat([stack, torch.zeros(*stack.shape[:2], extra, stack.size(3))], dim=2) for stack in stacks]
    with torch.no_grad():
        alone, in_batch = interface(stacks), interface(padded)
    assert torch.allclose(alone, in_batch[:, :7], atol=1e-5)
