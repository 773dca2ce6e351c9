"""The report names each row by the members its results record (what each member is), not by the
``-u`` name or the members' labels, and prints the length mode of each Whisper row."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import yaml

from s3prl_fusion.results.report import write_report
from s3prl_fusion.results.provenance import recorded_members

RANDOM_WAVLM = {"model_type": "wavlm", "hidden_size": 64, "num_hidden_layers": 4}
RANDOM_HUBERT = {"model_type": "hubert", "hidden_size": 64, "num_hidden_layers": 4}
RANDOM_WHISPER = {"d_model": 64, "encoder_layers": 5}


def write_result(folder: Path, upstream: str, interface: str, value: float, task: str = "sv_voxceleb1", **extra) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    result = {"task": task, "split": "test", "upstream": upstream, "interface": interface, "value": value, "metric": "eer", **extra}
    (folder / "result.json").write_text(json.dumps(result))


def report_rows(root: Path, out: Path) -> list[dict]:
    write_report(root, out)
    with open(out / "main.csv", newline="", encoding="utf-8") as file:
        return [{key: row[key] for key in ("scale", "section", "upstreams", "interface", "whisper_length_mode", "sv_eer")} for row in csv.DictReader(file)]


def row(scale, section, upstreams, interface, length_mode, eer) -> dict:
    return {"scale": scale, "section": section, "upstreams": upstreams, "interface": interface, "whisper_length_mode": length_mode, "sv_eer": eer}


def test_rows_are_named_by_what_the_members_are(tmp_path):
    root = tmp_path / "results"
    # a preset whose WavLM member -g swapped for Data2Vec: still labelled "wavlm"
    write_result(root / "swapped", "fused_wavlm_whisper", "hconv", 3.0, members=[
        {"label": "wavlm", "kind": "hf", "source": "facebook/data2vec-audio-base"},
        {"label": "whisper_small", "kind": "whisper", "source": "whisper_small", "length_mode": "pad30"},
    ])
    # -u fused -g with pretrained members given by id and by local path
    write_result(root / "fused-g", "fused", "ws", 4.0, members=[
        {"label": "first", "kind": "hf", "source": "facebook/hubert-base-ls960"},
        {"label": "second", "kind": "hf", "source": "/models/wavlm-base-plus"},
    ])
    # -u hf_ssl -k <id>: a single upstream, identified by its -u and -k
    write_result(root / "single", "hf_ssl", "ws", 5.0, members=[
        {"label": "upstream", "kind": "s3prl", "source": "hf_ssl", "ckpt": "microsoft/wavlm-large", "length_mode": None},
    ])
    # random stand-ins: named by their config's family, sized by a label of that family
    write_result(root / "random", "fused_wavlmlarge_whispermedium", "hconv", 2.0, members=[
        {"label": "wavlmlarge", "kind": "hf", "source": RANDOM_WAVLM},
        {"label": "whisper_medium", "kind": "whisper", "source": RANDOM_WHISPER, "length_mode": "exact"},
    ])
    write_result(root / "random-relabelled", "fused", "gumd", 6.0, members=[
        {"label": "wavlm", "kind": "hf", "source": RANDOM_HUBERT},
        {"label": "wavlm_small_random", "kind": "hf", "source": RANDOM_WAVLM},
    ])
    assert report_rows(root, tmp_path / "report") == [
        row("base", "SSL+SSL", "HuBERT+WavLM", "ws", "-", "4.00"),
        row("base", "SSL+SSL", "HuBERT+WavLM", "gumd", "-", "6.00"),
        row("base", "Whisper+SSL", "Whisper+Data2Vec", "hconv", "pad30", "3.00"),
        row("large", "Single models", "WavLM Large", "ws", "-", "5.00"),
        row("large", "Whisper+SSL", "Whisper Medium+WavLM Large", "hconv", "exact", "2.00"),
    ]


def test_results_without_recorded_members_fall_back_to_member_labels_then_the_upstream_name(tmp_path):
    root = tmp_path / "results"
    write_result(root / "older-fused", "fused", "hconv", 3.0, member_labels=["wavlm_small_random", "whisper_small_random"])
    write_result(root / "older-preset", "fused_hubert_wavlm", "hconv", 4.0, member_labels=["hubert", "wavlm"])
    write_result(root / "oldest", "whisper_small", "ws", 5.0)
    assert report_rows(root, tmp_path / "report") == [
        row("base", "Single models", "Whisper", "ws", "unknown", "5.00"),
        row("base", "SSL+SSL", "HuBERT+WavLM", "hconv", "-", "4.00"),
        row("base", "Whisper+SSL", "Whisper+WavLM", "hconv", "unknown", "3.00"),
    ]


def test_each_whisper_length_mode_is_its_own_row_and_is_printed(tmp_path):
    root = tmp_path / "results"
    for mode, eer in (("exact", 3.5), ("pad30", 3.1)):
        write_result(root / f"{mode}/sv", "fused_wavlm_whisper", "hconv", eer, selection="best-test", members=[
            {"label": "wavlm", "kind": "hf", "source": "microsoft/wavlm-base-plus"},
            {"label": "whisper_small", "kind": "whisper", "source": "whisper_small", "length_mode": mode},
        ])
    assert report_rows(root, tmp_path / "report") == [
        row("base", "Whisper+SSL", "Whisper+WavLM", "hconv", "exact", "3.50"),
        row("base", "Whisper+SSL", "Whisper+WavLM", "hconv", "pad30", "3.10"),
    ]
    markdown = (tmp_path / "report" / "main.md").read_text()
    assert "| Upstreams | Interface | Whisper length mode |" in markdown
    assert "| Whisper+WavLM | HConv | pad30 | - | - | - | **3.10** |" in markdown
    assert "| Whisper+WavLM | HConv | exact | - | - | - | 3.50 |" in markdown


def featurizer_checkpoint(identity: dict) -> dict:
    return {"Featurizer": {"_extra_state": {"members": ["upstream"], "member_identities": [identity], "autocast": "none"}}}


def test_a_single_whisper_upstream_records_the_length_mode_it_was_built_with(tmp_path):
    from s3prl_fusion.s3prl_adapter.patches.registration import hub_entries
    from s3prl_fusion.upstreams.identity import upstream_identities

    options = tmp_path / "whisper-g.yaml"
    options.write_text(yaml.safe_dump({"length_mode": "pad30", "config": {
        "d_model": 48, "encoder_layers": 2, "encoder_attention_heads": 4, "encoder_ffn_dim": 96,
        "decoder_layers": 1, "decoder_attention_heads": 4, "decoder_ffn_dim": 96, "num_mel_bins": 80}}))
    whisper = hub_entries()["whisper_medium"](model_config=str(options))
    identities, autocast = upstream_identities(whisper, "whisper_medium", None, str(options))
    recorded = recorded_members(featurizer_checkpoint(identities[0]))
    assert (recorded["members"][0]["kind"], recorded["members"][0]["length_mode"], recorded["autocast"]) == ("whisper", "pad30", "none")

def test_checkpoints_without_identities_give_their_member_labels():
    assert recorded_members({"Featurizer": {"_extra_state": {"members": ["hubert", "wavlm"]}}}) == {"member_labels": ["hubert", "wavlm"]}
    assert recorded_members({"Featurizer": {}}) == {}
