"""Write an upstream's export folder and build the upstream back from one (what its ``expert.py`` calls).

The folder's files are described in ``s3prl_fusion.commands.export``, the command that writes it.
"""
from __future__ import annotations

from pathlib import Path

import torch
import yaml
from torch import nn

from s3prl_fusion import __version__
from s3prl_fusion.errors import SettingError, UnknownNameError
from s3prl_fusion.s3prl_adapter.patches.registration import hub_entries
from s3prl_fusion.upstreams import read_upstream_options
from s3prl_fusion.upstreams.fused import FusedUpstream

MODEL_FILE = "model.pt"
OPTIONS_FILE = "upstream_config.yaml"
EXPERT_SOURCE = '''"""An s3prl upstream exported by `s3prl-fusion export`; load it with s3prl's --hub huggingface."""
from pathlib import Path

from torch import nn

from s3prl_fusion.export import load_exported_upstream


class UpstreamExpert(nn.Module):
    """s3prl's upstream contract: ``forward(wavs)`` -> output dict, ``get_downsample_rates(key)``."""

    def __init__(self, ckpt: str = str(Path(__file__).with_name("{model_file}")), model_config=None, refresh=False, **kwargs):
        super().__init__()
        self.upstream = load_exported_upstream(ckpt, model_config)

    def get_downsample_rates(self, key: str = "hidden_states") -> int:
        return self.upstream.get_downsample_rates(key)

    def forward(self, wavs):
        return self.upstream(wavs)
'''


def upstream_members(upstream: nn.Module) -> list[nn.Module]:
    """The member modules of a fused upstream, or the single upstream itself."""
    return list(upstream.members) if isinstance(upstream, FusedUpstream) else [upstream]


def _member_options(upstream: nn.Module, options: dict) -> list[dict]:
    return upstream.member_entries if isinstance(upstream, FusedUpstream) else [options]


def build_upstream(name: str, ckpt: str | None, options_file: Path | None) -> nn.Module:
    entries = hub_entries()
    if name not in entries:
        raise UnknownNameError(f"--upstream {name} is not an upstream of the plugin; `s3prl-fusion list` prints them")
    return entries[name](ckpt=ckpt, model_config=None if options_file is None else str(options_file))


def export_upstream(name: str, out_dir: Path, ckpt: str | None = None, model_config: str | None = None) -> Path:
    """Build ``-u name [-k ckpt] [-g model_config]`` and write the export folder; returns it."""
    options = read_upstream_options(model_config)
    upstream = build_upstream(name, ckpt, None if model_config is None else Path(model_config))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    member_weights = {
        index: member.state_dict()
        for index, (member, entry) in enumerate(zip(upstream_members(upstream), _member_options(upstream, options)))
        if entry.get("config") is not None
    }
    (out_dir / OPTIONS_FILE).write_text(yaml.safe_dump(options, sort_keys=False))
    torch.save({"upstream": name, "ckpt": ckpt, "member_weights": member_weights}, out_dir / MODEL_FILE)
    (out_dir / "expert.py").write_text(EXPERT_SOURCE.replace("{model_file}", MODEL_FILE))
    (out_dir / "requirements.txt").write_text(f"s3prl-fusion>={__version__}\n")
    return out_dir


def load_exported_upstream(ckpt: str, model_config: str | None = None) -> nn.Module:
    """The upstream of an export folder, from its ``model.pt`` (``ckpt``) and ``upstream_config.yaml``."""
    if model_config:
        raise SettingError(f"an exported upstream carries its options in {OPTIONS_FILE}; edit that file instead of passing -g")
    saved = torch.load(ckpt, map_location="cpu", weights_only=True)
    options_file = Path(ckpt).with_name(OPTIONS_FILE)
    upstream = build_upstream(saved["upstream"], saved["ckpt"], options_file if options_file.is_file() else None)
    members = upstream_members(upstream)
    for index, weights in saved["member_weights"].items():
        members[index].load_state_dict(weights)
    return upstream.eval()
