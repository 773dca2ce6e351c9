"""ESPnet's own s3prl frontend (``espnet2.asr.frontend.s3prl.S3prlFrontend``) with a fused upstream
(``upstream: fused``) and each interface swapped in through ``s3prl_fusion.nn``, as an ESPnet
ASR model runs it: a batch in eval mode, and a training step whose gradient reaches the
interface. ``bash run.sh test-oldest`` installs ESPnet's current release to run these."""
from __future__ import annotations

from importlib.metadata import PackageNotFoundError, requires, version

import pytest
import torch
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from conftest import DEMO_UPSTREAM
from s3prl_fusion.nn import FusedS3PRLUpstream, InterfaceFeaturizer

S3prlFrontend = pytest.importorskip("espnet2.asr.frontend.s3prl", reason="needs ESPnet (bash run.sh test-oldest installs it)").S3prlFrontend

FUSED = {"upstream": "fused", "extra_conf": {"model_config": str(DEMO_UPSTREAM)}}
WAVLM_DIM, WHISPER_DIM = 64, 48  # the demo members' hidden sizes
# run.sh installs ESPnet without its requirement tree; its numpy>=2 is the one it leaves unmet (the oldest pins numpy 1.24.4)
UNMET_ON_PURPOSE = {"numpy"}


def test_every_requirement_of_espnet_installed_here_holds():
    """ESPnet's requirements that are installed next to the package's oldest versions hold, so pip resolves
    ESPnet into this environment without moving them (torch 2.13 needs setuptools>=77.0.3, ESPnet setuptools<74)."""
    unmet = []
    for line in requires("espnet"):
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue  # an extra's requirement
        try:
            installed = version(requirement.name)
        except PackageNotFoundError:
            continue
        if canonicalize_name(requirement.name) not in UNMET_ON_PURPOSE and not requirement.specifier.contains(installed, prereleases=True):
            unmet.append(f"espnet requires {requirement}, installed {installed}")
    assert not unmet, unmet


def espnet_frontend(interface: str) -> S3prlFrontend:
    """ESPnet's frontend over the demo's fused upstream, its upstream replaced by s3prl_fusion.nn's (the
    members' own valid frames, and their layer stacks), and s3prl's weighted sum by the interface
    unless that is ``hidden_states``."""
    torch.manual_seed(0)
    frontend = S3prlFrontend(frontend_conf=FUSED, multilayer_feature=True)
    frontend.upstream = FusedS3PRLUpstream(FUSED["upstream"], extra_conf=FUSED["extra_conf"])
    frontend.upstream.load_state_dict(frontend.pretrained_params)
    if interface != "hidden_states":
        run = {"total_updates": 10} if interface == "gumd" else {}  # GumD's schedule: the run's optimizer updates
        frontend.featurizer = InterfaceFeaturizer(frontend.upstream, interface=interface, **run)
    return frontend


@pytest.mark.parametrize("interface", ["ws", "gumd", "hconv", "chconv", "hidden_states"])
def test_espnet_frontend_runs_a_batch_in_eval_and_trains_the_interface(interface):
    frontend = espnet_frontend(interface)
    speech, speech_lengths = torch.randn(2, 16000), torch.tensor([16000, 11000])

    frontend.eval()
    with torch.no_grad():
        feats, feats_lengths = frontend(speech, speech_lengths)
    assert feats.shape == (2, 50, frontend.output_size()) and torch.isfinite(feats).all()
    assert feats_lengths.tolist() == [50, 34]  # 11000 samples make 34 frames in both members
    if interface == "hidden_states":
        assert frontend.output_size() == WAVLM_DIM + WHISPER_DIM  # s3prl's weighted sum over the members' layers side by side

    frontend.train()
    interface_parameters = [p for p in frontend.featurizer.parameters() if p.requires_grad]
    assert interface_parameters
    optimizer = torch.optim.SGD(interface_parameters, lr=0.1)
    before = [p.detach().clone() for p in interface_parameters]
    feats, feats_lengths = frontend(speech, speech_lengths)
    assert feats.shape == (2, 50, frontend.output_size())
    feats.pow(2).mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in interface_parameters)
    optimizer.step()
    assert any(not torch.equal(b, p) for b, p in zip(before, interface_parameters))
