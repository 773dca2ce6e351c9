"""ML-SUPERB downstream: data layout, text rules, model pieces and the s3prl expert contract."""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
import yaml
from tensorboardX import SummaryWriter

import s3prl_fusion  # noqa: F401  (makes torchaudio / s3prl importable first)
from s3prl_fusion.downstreams.ml_superb.corpus import MlSuperbCorpus, MlSuperbDataError
from s3prl_fusion.downstreams.ml_superb.dataset import LengthSortedBatches
from s3prl_fusion.downstreams.ml_superb.expert import DownstreamExpert
from s3prl_fusion.downstreams.ml_superb.model import MlSuperbCtcModel
from s3prl_fusion.downstreams.ml_superb.specaug import SpecAugment, mask_along_axis, time_warp
from s3prl_fusion.downstreams.ml_superb.text import SPACE, Tokenizer, Vocabulary, normalize_transcript
from s3prl_fusion.downstreams.ml_superb.trn import TrnEntry, read_trn, write_trn
from s3prl_fusion.results.ml_superb import read_result
from s3prl_fusion.results.outcomes import Outcomes, point_estimate
from s3prl_fusion.downstreams.ml_superb.transformer import Conv2dSubsampling2, TransformerEncoder
from s3prl_fusion.downstreams.ml_superb.utterance_mvn import utterance_mvn

REPO = Path(__file__).resolve().parents[1]
UPSTREAM_DIM = 12
UPSTREAM_RATE = 320
TINY_MODELRC = {
    "project_dim": 16,
    "specaug": {"time_warp_window": 2, "num_time_mask": 2, "freq_mask_width_range": [0, 3]},
    "encoder": {"output_size": 16, "attention_heads": 2, "linear_units": 32, "num_blocks": 2},
}

# (dataset, lang) -> transcript file name -> [(utt_id, text, seconds)]
CORPUS = {
    ("mls", "eng"): {
        "transcript_1h_train.txt": [
            ("mls_eng_000001", "Hello, world!", 0.4),
            ("mls_eng_000002", "a cat [noise] sat", 0.5),
            ("mls_eng_000003", "long one", 20.5),
        ],
        "transcript_10min_train.txt": [("mls_eng_000001", "Hello, world!", 0.4)],
        "transcript_10min_dev.txt": [("mls_eng_000010", "hello cat", 0.4), ("mls_eng_000011", "world", 0.3)],
        "transcript_10min_test.txt": [("mls_eng_000020", "sat world", 0.4), ("mls_eng_000021", "cat", 0.3)],
    },
    ("nchlt", "eng"): {
        "transcript_1h_train.txt": [("nchlt_eng_000001", "zebra", 0.3)],
        "transcript_10min_train.txt": [("nchlt_eng_000001", "zebra", 0.3)],
        "transcript_10min_dev.txt": [("nchlt_eng_000010", "zoo", 0.3)],
        "transcript_10min_test.txt": [("nchlt_eng_000020", "zebra hello", 0.4), ("nchlt_eng_000021", "a", 0.3)],
    },
    ("commonvoice", "jpn"): {
        "transcript_1h_train.txt": [("cv_jpn_000001", "k o N n i ch i w a", 0.4), ("cv_jpn_000002", "a r i g a t o o", 0.4)],
        "transcript_10min_train.txt": [("cv_jpn_000001", "k o N n i ch i w a", 0.4)],
        "transcript_10min_dev.txt": [("cv_jpn_000010", "k o N n i ch i w a", 0.4)],
        "transcript_10min_test.txt": [("cv_jpn_000020", "a r i g a t o o", 0.4)],
    },
    ("fleurs", "lit"): {
        "transcript_1h_train.txt": [("fleurs_lit_000097", "labas", 0.3), ("fleurs_lit_000001", "ačiū", 0.3)],
        "transcript_10min_train.txt": [("fleurs_lit_000097", "labas", 0.3)],
        "transcript_10min_dev.txt": [("fleurs_lit_000010", "labas", 0.3)],
        "transcript_10min_test.txt": [("fleurs_lit_000020", "ačiū labas", 0.4)],
    },
}


def write_corpus(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for (dataset, lang), transcripts in CORPUS.items():
        pair = root / dataset / lang
        (pair / "wav").mkdir(parents=True, exist_ok=True)
        for file_name, lines in transcripts.items():
            with open(pair / file_name, "w", encoding="utf-8") as transcript:
                for utt_id, text, seconds in lines:
                    transcript.write(f"{utt_id} {lang} {text}\n")
                    samples = int(seconds * 16000)
                    tone = 0.3 * np.sin(2 * np.pi * 220 * np.arange(samples) / 16000)
                    audio = tone + 0.01 * rng.standard_normal(samples)
                    soundfile.write(pair / "wav" / f"{utt_id}.wav", audio.astype(np.float32), 16000, subtype="PCM_16")
    return root


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "ml_superb")


def make_expert(root: Path, expdir: Path, modelrc=None, **datarc) -> DownstreamExpert:
    datarc = {"root": str(root), "mode": "mono", "language": "eng1", "batch_size": 2, "eval_batch_size": 2, **datarc}
    return DownstreamExpert(
        UPSTREAM_DIM,
        UPSTREAM_RATE,
        downstream_expert={"datarc": datarc, "modelrc": modelrc or TINY_MODELRC},
        expdir=str(expdir),
        seed=1337,
    )


def features_for(wavs) -> list[torch.Tensor]:
    """Random upstream features with the frame count of a 20 ms upstream."""
    return [torch.randn(max(len(wav) // UPSTREAM_RATE, 8), UPSTREAM_DIM) for wav in wavs]


class RecordingWriter(SummaryWriter):
    def __init__(self, logdir):
        super().__init__(logdir)
        self.scalars = {}

    def add_scalar(self, tag, value, global_step=None, *args, **kwargs):
        self.scalars[tag] = value
        super().add_scalar(tag, value, global_step=global_step)


def evaluate(expert: DownstreamExpert, split: str, logger, global_step: int) -> list[str]:
    expert.eval()
    records = defaultdict(list)
    with torch.no_grad():
        for wavs, labels, utterances in expert.get_dataloader(split):
            expert(split, features_for(wavs), labels, utterances, records=records)
    return expert.log_records(split, records, logger, global_step, batch_ids=[], total_batch_num=0)


# Text rules ---------------------------------------------------------------------------


def test_normalisation_removes_ascii_punctuation_and_upper_cases():
    assert normalize_transcript("Hello, world! it's 5-6.", remove_bracket_spans=False) == "HELLO WORLD ITS 56"
    assert normalize_transcript("¿qué? «straße»", remove_bracket_spans=False) == "¿QUÉ «STRASSE»"
    assert normalize_transcript("日本語。です、", remove_bracket_spans=False) == "日本語。です、"
    assert normalize_transcript("  padded.  ", remove_bracket_spans=False) == "PADDED"


def test_bracket_spans_are_removed_only_for_multi():
    assert normalize_transcript("a cat [noise] sat", remove_bracket_spans=False) == "A CAT NOISE SAT"
    assert normalize_transcript("a cat [noise] sat", remove_bracket_spans=True) == "A CAT  SAT"
    assert normalize_transcript("[a] b [c] d", remove_bracket_spans=True) == "D"
    assert normalize_transcript("[a] (b) [c] d", remove_bracket_spans=True) == "B  D"


def test_tokenizers_round_trip():
    char = Tokenizer("char")
    assert char.tokens("AB C") == ["A", "B", SPACE, "C"]
    assert char.text(char.tokens("AB C")) == "AB C"
    word = Tokenizer("word")
    assert word.tokens("K O  N") == ["K", "O", "N"]
    assert word.text(["CH", "I"]) == "CH I"
    with pytest.raises(ValueError, match="token unit"):
        Tokenizer("bpe")


def test_trn_files_give_back_the_scored_tokens(tmp_path: Path):
    entries = [
        TrnEntry("mls_eng_000020", "eng", (SPACE, "S", "A", SPACE, SPACE, "<unk>", SPACE)),  # spaces at the ends, <unk>
        TrnEntry("cv_jpn_000020", "jpn", ()),  # an empty hypothesis
        TrnEntry("x-y_z", "lit", ("\t", "\x85", "\u2028", "\r", "Č")),  # line breaks other than \n are characters
    ]
    write_trn(tmp_path / "test-hyp.trn", entries)
    assert (tmp_path / "test-hyp.trn").read_text("utf-8").split("\n")[0] == "<space> S A <space> <space> <unk> <space>\t(eng-mls_eng_000020)"
    assert read_trn(tmp_path / "test-hyp.trn") == entries


def test_vocabulary_orders_by_count_after_blank_and_unknown(tmp_path: Path):
    vocabulary = Vocabulary.build("char", [["B", "A", "B"], ["C", "B", "A"]])
    assert vocabulary.tokens == ["<blank>", "<unk>", "B", "A", "C"]
    assert vocabulary.encode(["A", "Z"]) == [3, vocabulary.unknown_id]
    reloaded = Vocabulary.load(vocabulary.save(tmp_path))
    assert reloaded.tokens == vocabulary.tokens and reloaded.unit == "char"


# Data layout ---------------------------------------------------------------------------


def test_mono_pair_trains_on_its_source_and_tests_on_every_source(root: Path):
    corpus = MlSuperbCorpus(root, mode="mono", language="eng1")
    train = corpus.utterances("train")
    assert [u.utt_id for u in train] == ["mls_eng_000001", "mls_eng_000002", "mls_eng_000003"]
    assert train[1].text == "A CAT NOISE SAT"
    assert [u.utt_id for u in corpus.utterances("dev")] == ["mls_eng_000010", "mls_eng_000011"]
    test = corpus.utterances("test")
    assert sorted((u.source, u.utt_id) for u in test) == [
        ("mls", "mls_eng_000020"),
        ("mls", "mls_eng_000021"),
        ("nchlt", "nchlt_eng_000020"),
        ("nchlt", "nchlt_eng_000021"),
    ]
    assert corpus.unit == "char" and corpus.metric == "cer"
    assert [u.utt_id for u in MlSuperbCorpus(root, "mono", "eng1", train_set="10min").utterances("train")] == [
        "mls_eng_000001"
    ]


def test_mono_japanese_is_word_level(root: Path):
    corpus = MlSuperbCorpus(root, mode="mono", language="jpn")
    assert corpus.unit == "word" and corpus.metric == "wer"
    assert corpus.utterances("train")[0].text == "K O N N I CH I W A"


def test_multi_uses_every_pair_skips_long_and_keeps_few_shot_selection(root: Path):
    corpus = MlSuperbCorpus(root, mode="multi")
    train_ids = {u.utt_id for u in corpus.utterances("train")}
    assert "mls_eng_000003" not in train_ids
    assert "fleurs_lit_000097" in train_ids and "fleurs_lit_000001" not in train_ids
    assert {"nchlt_eng_000001", "cv_jpn_000001", "cv_jpn_000002", "mls_eng_000002"} <= train_ids
    texts = {u.utt_id: u.text for u in corpus.utterances("train")}
    assert texts["mls_eng_000002"] == "A CAT  SAT"
    assert {(u.source, u.language) for u in corpus.utterances("test")} == set(CORPUS)
    assert corpus.unit == "char"


def test_missing_root_names_path_and_config_key(tmp_path: Path):
    missing = tmp_path / "nowhere"
    with pytest.raises(MlSuperbDataError, match="datarc.root") as error:
        MlSuperbCorpus(missing, mode="mono", language="eng1")
    assert str(missing) in str(error.value)
    with pytest.raises(MlSuperbDataError, match="datarc.root is not set"):
        DownstreamExpert(UPSTREAM_DIM, UPSTREAM_RATE, {"datarc": {}}, str(tmp_path / "exp"))


def test_missing_language_pair_names_path_and_config_key(root: Path):
    with pytest.raises(MlSuperbDataError, match="datarc.root") as error:
        MlSuperbCorpus(root, mode="mono", language="fra1")
    assert str(root / "voxforge" / "fra") in str(error.value)
    with pytest.raises(MlSuperbDataError, match="datarc.language"):
        MlSuperbCorpus(root, mode="mono", language="eng")


def test_missing_audio_and_transcript_are_named(root: Path):
    (root / "mls" / "eng" / "wav" / "mls_eng_000010.wav").unlink()
    with pytest.raises(MlSuperbDataError, match="mls_eng_000010.wav"):
        MlSuperbCorpus(root, mode="mono", language="eng1").utterances("dev")
    (root / "nchlt" / "eng" / "transcript_10min_test.txt").unlink()
    with pytest.raises(MlSuperbDataError, match="nchlt/eng/transcript_10min_test.txt"):
        MlSuperbCorpus(root, mode="mono", language="eng1")


def test_length_sorted_batches_are_sorted_and_shuffled_by_seed():
    lengths = [5, 1, 4, 2, 3, 6]
    plain = list(LengthSortedBatches(lengths, batch_size=2, seed=None))
    assert plain == [[1, 3], [4, 2], [0, 5]]
    shuffled = list(LengthSortedBatches(lengths, batch_size=2, seed=3))
    assert sorted(map(tuple, shuffled)) == sorted(map(tuple, plain))
    assert shuffled == list(LengthSortedBatches(lengths, batch_size=2, seed=3))


# Model pieces --------------------------------------------------------------------------


@pytest.mark.parametrize("frames", [7, 8, 20, 101])
def test_conv2d2_output_length(frames: int):
    subsampling = Conv2dSubsampling2(idim=80, odim=8, dropout_rate=0.0)
    output, mask = subsampling(torch.randn(1, frames, 80), torch.ones(1, 1, frames, dtype=torch.bool))
    assert output.shape == (1, (frames - 1) // 2 - 2, 8)
    assert mask.shape[-1] == output.shape[1] and bool(mask.all())


def test_conv2d2_lengths_of_padded_utterances_follow_mask_subsampling():
    encoder = TransformerEncoder(10, output_size=8, attention_heads=2, linear_units=16, num_blocks=1).eval()
    output, lengths = encoder(torch.randn(3, 41, 10), torch.tensor([41, 20, 9]))
    assert output.shape == (3, 18, 8)
    assert lengths.tolist() == [18, 10, 5]
    with pytest.raises(ValueError, match="at least 7"):
        encoder(torch.randn(1, 6, 10), torch.tensor([6]))


def test_utterance_mvn_uses_valid_frames_and_keeps_padding_zero():
    features = torch.randn(2, 10, 4) + 3.0
    features[1, 6:] = 0.0
    normalised = utterance_mvn(features, torch.tensor([10, 6]))
    assert torch.allclose(normalised[1, :6].mean(dim=0), torch.zeros(4), atol=1e-5)
    assert torch.equal(normalised[1, 6:], torch.zeros(4, 4))
    scaled = utterance_mvn(features, torch.tensor([10, 6]), norm_vars=True)
    assert torch.allclose(scaled[0].std(dim=0, unbiased=False), torch.ones(4), atol=1e-4)


def test_specaug_masks_and_warp_keep_shape():
    torch.manual_seed(0)
    features = torch.randn(2, 40, 30) + 5.0
    masked = mask_along_axis(features, (3, 4), num_mask=1, axis=2)
    assert all(int((masked[b] == 0).all(dim=0).sum()) == 3 for b in range(2))
    assert time_warp(features, window=5).shape == features.shape
    assert torch.equal(time_warp(features[:, :10], window=5), features[:, :10])
    augmented = SpecAugment()(features, torch.tensor([40, 25]))
    assert augmented.shape == features.shape
    assert torch.equal(augmented[1, 25:], torch.zeros(15, 30))


def test_ctc_loss_falls_on_a_fixed_batch():
    torch.manual_seed(0)
    model = MlSuperbCtcModel(
        UPSTREAM_DIM,
        vocab_size=6,
        project_dim=16,
        specaug=None,
        encoder={"output_size": 32, "attention_heads": 2, "linear_units": 64, "num_blocks": 2, "dropout_rate": 0.0,
                 "positional_dropout_rate": 0.0, "attention_dropout_rate": 0.0},
    )
    features = [torch.randn(40, UPSTREAM_DIM), torch.randn(32, UPSTREAM_DIM)]
    labels = [[2, 3, 4, 5], [5, 4, 2]]
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(25):
        loss = model.ctc_loss(*model(features), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    model.eval()
    assert model.greedy_decode(*model(features)) == labels


# The s3prl expert ----------------------------------------------------------------------


def test_expert_train_dev_test_round(root: Path, tmp_path: Path):
    expdir = tmp_path / "exp"
    expert = make_expert(root, expdir)
    logger = RecordingWriter(str(expdir))
    optimizer = torch.optim.Adam(expert.parameters(), lr=1e-3)

    expert.train()
    records = defaultdict(list)
    batches = list(expert.get_dataloader("train", epoch=0))
    assert sum(len(wavs) for wavs, _, _ in batches) == 3
    for wavs, labels, utterances in batches:
        assert all(isinstance(wav, np.ndarray) and wav.ndim == 1 for wav in wavs)
        features = [feature.requires_grad_() for feature in features_for(wavs)]
        loss = expert("train", features, labels, utterances, records=records)
        loss.backward()
        assert features[0].grad is not None
    optimizer.step()
    assert expert.log_records("train", records, logger, 1, batch_ids=[0, 1], total_batch_num=2) == []
    assert "ml_superb/train-loss" in logger.scalars

    assert evaluate(expert, "dev", logger, 2) == ["dev-loss-step-2.ckpt", "dev-best.ckpt"]
    assert "ml_superb/dev-cer" in logger.scalars
    assert expert.best_score.item() == pytest.approx(logger.scalars["ml_superb/dev-cer"])
    assert "dev-best.ckpt" not in evaluate(expert, "dev", logger, 3)

    evaluate(expert, "test", logger, 3)
    results = json.loads((expdir / "test-results.json").read_text("utf-8"))
    assert results["metric"] == "cer" and results["language"] == "eng1" and results["mode"] == "mono"
    assert results["overall"]["utterances"] == 4
    assert set(results["per_language"]) == {"eng"}
    assert set(results["per_source"]) == {"mls/eng", "nchlt/eng"}
    assert results["per_source"]["mls/eng"]["reference_tokens"] == len("SAT WORLD") + len("CAT")
    assert results["overall"]["error_rate"] == pytest.approx(
        100 * results["overall"]["errors"] / results["overall"]["reference_tokens"]
    )
    references = (expdir / "test-ref.txt").read_text("utf-8").splitlines()
    assert "mls_eng_000020 SAT WORLD" in references
    assert len((expdir / "test-hyp.txt").read_text("utf-8").splitlines()) == 4
    logger.close()
    assert list(expdir.glob("events.out.tfevents.*"))


def test_best_dev_score_survives_a_state_dict_round_trip(root: Path, tmp_path: Path):
    expdir = tmp_path / "exp"
    expert = make_expert(root, expdir)
    logger = SummaryWriter(str(tmp_path / "tb"))
    assert evaluate(expert, "dev", logger, 1) == ["dev-loss-step-1.ckpt", "dev-best.ckpt"]
    resumed = make_expert(root, expdir)
    resumed.load_state_dict(expert.state_dict())
    assert resumed.best_score.item() == expert.best_score.item()
    assert "dev-best.ckpt" not in evaluate(resumed, "dev", logger, 2)


def test_vocabulary_is_saved_and_reloaded_not_rebuilt(root: Path, tmp_path: Path):
    expdir = tmp_path / "exp"
    first = make_expert(root, expdir)
    saved = expdir / Vocabulary.FILE_NAME
    assert saved.is_file()
    assert set(first.vocabulary.tokens) == {"<blank>", "<unk>", SPACE, *"HELOWRDACTNISG"}
    with open(root / "mls" / "eng" / "transcript_1h_train.txt", "a", encoding="utf-8") as transcript:
        transcript.write("mls_eng_000001 eng QQQ\n")
    assert make_expert(root, expdir).vocabulary.tokens == first.vocabulary.tokens
    assert "Q" in make_expert(root, tmp_path / "fresh").vocabulary.tokens
    with pytest.raises(MlSuperbDataError, match=Vocabulary.FILE_NAME):
        make_expert(root, expdir, language="jpn")


def test_japanese_expert_scores_word_error_rate(root: Path, tmp_path: Path):
    expdir = tmp_path / "exp"
    expert = make_expert(root, expdir, language="jpn")
    assert "CH" in expert.vocabulary.tokens and SPACE not in expert.vocabulary.tokens
    logger = RecordingWriter(str(expdir))
    evaluate(expert, "test", logger, 1)
    results = json.loads((expdir / "test-results.json").read_text("utf-8"))
    assert results["metric"] == "wer" and "ml_superb/test-wer" in logger.scalars
    assert results["overall"]["reference_tokens"] == 8


def test_multi_expert_reports_languages_and_few_shot_groups(root: Path, tmp_path: Path):
    expdir = tmp_path / "exp"
    expert = make_expert(root, expdir, mode="multi", language=None)
    evaluate(expert, "test", SummaryWriter(str(expdir)), 1)
    results = json.loads((expdir / "test-results.json").read_text("utf-8"))
    assert set(results["per_language"]) == {"eng", "jpn", "lit"}
    assert set(results["per_group"]) == {"trained", "reserved"}
    assert results["per_group"]["reserved"]["utterances"] == 1
    assert results["overall"]["utterances"] == 6

    result = read_result(expdir, "test")
    outcomes = Outcomes.from_entry(result["outcomes"])
    assert result["outcome_units"] == "utterance" and len(outcomes) == 6
    assert point_estimate(outcomes) == pytest.approx(result["value"], abs=1e-9)  # pooled over every utterance
    for language, tally in results["per_language"].items():
        rows = outcomes.strata == language
        assert 100 * outcomes.columns["errors"][rows].sum() / outcomes.columns["tokens"][rows].sum() == pytest.approx(tally["error_rate"])


def test_mono_outcomes_recompute_the_mean_over_languages_of_their_pairs(root: Path, tmp_path: Path):
    for pair in ("eng1", "eng2", "jpn"):
        evaluate(make_expert(root, tmp_path / pair, language=pair), "test", SummaryWriter(str(tmp_path / pair)), 1)
    result = read_result(tmp_path, "test")
    outcomes = Outcomes.from_entry(result["outcomes"])
    assert point_estimate(outcomes) == pytest.approx(result["value"], abs=1e-9)
    assert result["value"] == pytest.approx(((result["per_language"]["eng1"] + result["per_language"]["eng2"]) / 2 + result["per_language"]["jpn"]) / 2)
    assert sorted(set(outcomes.strata)) == ["eng1", "eng2", "jpn"] and len(set(outcomes.ids)) == len(outcomes) == 9
    english = outcomes.units[outcomes.strata == "eng1"]
    assert list(english) == list(outcomes.units[outcomes.strata == "eng2"])  # both pairs decode the same English test utterances


def test_shipped_config_builds_the_paper_downstream_and_optimizer(root: Path, tmp_path: Path):
    from s3prl.optimizers import get_optimizer

    config = yaml.safe_load((REPO / "downstream_configs" / "ml_superb" / "config.yaml").read_text())
    assert config["runner"]["gradient_accumulate_steps"] == 4
    assert config["runner"]["total_steps"] * config["runner"]["gradient_accumulate_steps"] == 30 * 20000
    config["downstream_expert"]["datarc"]["root"] = str(root)
    expert = DownstreamExpert(768, 320, config["downstream_expert"], str(tmp_path / "exp"))
    encoder = expert.model.encoder
    assert expert.model.preencoder.out_features == 80 and len(encoder.encoders) == 2
    assert encoder.output_size == 256 and encoder.encoders[0].self_attn.heads == 8
    assert encoder.encoders[0].feed_forward[0].out_features == 1024
    optimizer = get_optimizer([expert], config["runner"]["total_steps"], config["optimizer"])
    assert isinstance(optimizer, torch.optim.Adam)
    assert optimizer.defaults["lr"] == 1e-4 and optimizer.defaults["weight_decay"] == 1e-6
