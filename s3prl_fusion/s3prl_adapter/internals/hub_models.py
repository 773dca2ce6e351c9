"""The model objects of s3prl's hub upstreams, where a padded batch reaches s3prl's own code.

``S3PRLHubMember`` (``upstreams/members.py``) makes an s3prl hub member's features independent
of its batch through two of s3prl's model internals, both checked against the installed s3prl
(``HUB_MODEL_TARGETS``) before any model object is changed (``hub_model_internals``):
    forward_padding_mask   s3prl's WavLM / HuBERT count a frame as padding only when all its
                           stride's samples are; the method is replaced, on the model object
                           only, by the front end's exact frame rule;
    stacked position convs s3prl's transformer encoder built with ``pos_conv_depth`` > 1 (the
                           released Data2Vec checkpoints: 5 blocks of conv, layer norm and GELU)
                           lets each block's output past an utterance reach the next block; the
                           blocks are handed out for hooks that zero it;
    padded spectra         s3prl's baseline features computed by its online preprocessor
                           (``mel``, ``linear``) take each utterance's frame count and CMVN
                           statistics from the padded batch, so such members run one
                           utterance at a time (the Kaldi ones, ``fbank``, ``spectrogram``,
                           ``mfcc``, already do).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

from torch import Tensor, nn

from s3prl_fusion.s3prl_adapter.internals.targets import PatchTarget, check_targets

_EXACT_MASK = "frames past each utterance's conv frames count as padding (forward_padding_mask replaced on the model object)"
_POSITION_CONVS = "Data2Vec's stacked positional convs see zeros past each utterance (hooks on pos_conv's blocks)"
PADDING_MASK_TARGETS = (
    PatchTarget(_EXACT_MASK, "s3prl.upstream.wavlm.WavLM", "WavLM.forward_padding_mask", ("self", "features", "padding_mask")),
    PatchTarget(_EXACT_MASK, "s3prl.upstream.wavlm.WavLM", "WavLM.extract_features",
                source_contains=("padding_mask = self.forward_padding_mask(features, padding_mask)",)),
    PatchTarget(_EXACT_MASK, "s3prl.upstream.hubert.hubert_model", "HubertModel.forward_padding_mask", ("self", "features", "padding_mask")),
    PatchTarget(_EXACT_MASK, "s3prl.upstream.hubert.hubert_model", "HubertModel.forward",
                source_contains=("padding_mask = self.forward_padding_mask(features, padding_mask)",)),
)
POSITION_CONV_TARGETS = (
    PatchTarget(_POSITION_CONVS, "s3prl.upstream.wav2vec2.wav2vec2_model", "TransformerEncoder.__init__",
                source_contains=("self.pos_conv = make_conv_block(", "SamePad(k)")),
    PatchTarget(_POSITION_CONVS, "s3prl.upstream.wav2vec2.wav2vec2_model", "TransformerEncoder.extract_features",
                source_contains=("x = index_put(x, padding_mask, 0)", "x_conv = self.pos_conv(x.transpose(1, 2))")),
)
_ONE_AT_A_TIME = "s3prl's preprocessor features (mel, linear) computed one utterance at a time"
PREPROCESSOR_TARGETS = (
    PatchTarget(_ONE_AT_A_TIME, "s3prl.upstream.baseline.expert", "UpstreamExpert.forward",
                source_contains=('if "kaldi" in self.config:', "feats = self._preprocessor_forward(wavs)")),
    PatchTarget(_ONE_AT_A_TIME, "s3prl.upstream.baseline.expert", "UpstreamExpert._preprocessor_forward",
                ("self", "wavs"), source_contains=("feats = pad_sequence(wavs, batch_first=True)",)),
)
HUB_MODEL_TARGETS = (*PADDING_MASK_TARGETS, *POSITION_CONV_TARGETS, *PREPROCESSOR_TARGETS)


@dataclass
class HubModelInternals:
    """What of s3prl's own model code inside one hub upstream a padded batch reaches.

    Args:
        padding_mask_owners: the s3prl WavLM / HuBERT model objects inside the upstream.
        position_conv_blocks: the blocks, in order, of each stacked positional conv embedding
            (s3prl's transformer encoder with ``pos_conv_depth`` > 1), each (B, D, T) -> (B, D, T);
            a single positional conv (``pos_conv_depth`` 1) already sees the zeroed padding.
        features_depend_on_the_batch: the upstream is an s3prl baseline whose features come from
            s3prl's online preprocessor over the padded batch (``mel``, ``linear``).
    """

    padding_mask_owners: list[nn.Module]
    position_conv_blocks: list[nn.Module]
    features_depend_on_the_batch: bool

    def replace_padding_masks(self, exact_mask: Callable[[Tensor, Tensor], Tensor]) -> None:
        """Give each owner ``exact_mask(features (B, T, C), padding_mask (B, samples)) -> (B, T)``
        as its ``forward_padding_mask``, on the object only."""
        for owner in self.padding_mask_owners:
            owner.forward_padding_mask = exact_mask


def hub_model_internals(upstream: nn.Module) -> HubModelInternals:
    """``upstream``'s HubModelInternals, after checking every ``HUB_MODEL_TARGETS`` against the
    installed s3prl (UnsupportedS3PRLError naming the patch); changes nothing."""
    classes = _checked_classes(HUB_MODEL_TARGETS)
    modules = list(upstream.modules())
    stacks = [module.pos_conv for module in modules if isinstance(module, classes["TransformerEncoder"])]
    return HubModelInternals(
        padding_mask_owners=[module for module in modules if isinstance(module, (classes["WavLM"], classes["HubertModel"]))],
        position_conv_blocks=[
            block for stack in stacks if isinstance(stack, nn.Sequential) and all(isinstance(block, nn.Sequential) for block in stack)
            for block in stack
        ],
        features_depend_on_the_batch=isinstance(upstream, classes["UpstreamExpert"]) and "kaldi" not in upstream.config,
    )


def _checked_classes(targets: tuple[PatchTarget, ...]) -> dict[str, type]:
    """{class name: class} of the s3prl classes ``targets`` name, after checking every target
    against the installed s3prl."""
    modules = {name: importlib.import_module(name) for name in dict.fromkeys(target.module for target in targets)}
    for name, module in modules.items():
        check_targets(module, tuple(target for target in targets if target.module == name))
    return {target.attribute.split(".")[0]: getattr(modules[target.module], target.attribute.split(".")[0]) for target in targets}
