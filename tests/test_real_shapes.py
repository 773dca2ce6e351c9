"""s3prl's runner at the paper's shapes: two base-size members of different kinds (13 hidden states
x 768 each, random weights), batches of 4 utterances of different lengths, gradient accumulation 2,
three checkpoints in a hyphenated folder, a fusion interface that aligns, concatenates and projects.
"""
from __future__ import annotations

import yaml

from conftest import ASR_CONFIGS, LIBRISPEECH_MINI, run_python
from s3prl_fusion.checkpoints import checkpoint_step, load_checkpoint

BASE_SIZE_MEMBERS = {
    "members": [
        {"name": "wavlm_base_random", "kind": "hf", "config": {
            "model_type": "wavlm", "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
            "intermediate_size": 3072}},
        {"name": "whisper_small_random", "kind": "whisper", "length_mode": "exact", "config": {
            "d_model": 768, "encoder_layers": 12, "encoder_attention_heads": 12, "encoder_ffn_dim": 3072,
            "decoder_layers": 1, "decoder_attention_heads": 12, "decoder_ffn_dim": 3072, "num_mel_bins": 80}},
    ]
}
TOTAL_STEPS, SAVE_STEP, ACCUMULATION, BATCH = 3, 1, 2, 4


def test_base_size_fusion_trains_with_accumulation_and_keeps_three_checkpoints(tmp_path, librispeech_buckets):
    members = tmp_path / "base-size-members.yaml"
    members.write_text(yaml.safe_dump(BASE_SIZE_MEMBERS))
    expdir = tmp_path / "real-shapes" / "wavlm-whisper-chconv"
    overrides = ",,".join([
        f"config.downstream_expert.datarc.libri_root='{LIBRISPEECH_MINI}'",
        f"config.downstream_expert.datarc.bucket_file='{librispeech_buckets}'",
        f"config.downstream_expert.datarc.train_batch_size={BATCH}",
        f"config.runner.total_steps={TOTAL_STEPS}",
        f"config.runner.save_step={SAVE_STEP}",
        f"config.runner.gradient_accumulate_steps={ACCUMULATION}",
        "config.runner.max_keep=3",
        "config.runner.log_step=1",
    ])
    result = run_python(["-m", "s3prl_fusion.run_downstream", "-m", "train", "-u", "fused", "-g", str(members), "-s", "chconv",
                         "-d", "asr", "-c", str(ASR_CONFIGS / "demo.yaml"), "-p", str(expdir), "--device", "cpu", "-o", overrides])
    assert "interface chconv over 2 member(s) ['wavlm_base_random', 'whisper_small_random'] (layers [13, 13], dims [768, 768])" in result.stderr

    checkpoints = sorted(expdir.glob("states-*.ckpt"), key=checkpoint_step)
    assert [checkpoint_step(path) for path in checkpoints] == [1, 2, 3]
    final = load_checkpoint(checkpoints[-1])
    assert final["Step"] == TOTAL_STEPS
    # one optimizer update per ACCUMULATION forwards: Adam has taken exactly TOTAL_STEPS steps
    adam_steps = {float(state["step"]) for state in final["Optimizer"]["state"].values()}
    assert adam_steps == {float(TOTAL_STEPS)}
    featurizer = final["Featurizer"]
    assert featurizer["_extra_state"]["layer_counts"] == [13, 13] and featurizer["_extra_state"]["dims"] == [768, 768]
    projection = [value for key, value in featurizer.items() if key.endswith("weight") and tuple(value.shape) == (768, 1536)]
    assert projection, "CHConv's Linear(2 x 768 -> 768) projection is missing from the checkpoint"
    assert list(expdir.glob("events.out.tfevents.*")), "no TensorBoard log"
