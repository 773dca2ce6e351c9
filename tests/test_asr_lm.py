"""ASR with s3prl's KenLM decoding (flashlight-text): the n-gram model and lexicon `prepare asr-lm` builds,
s3prl's lexicon decoder with SUPERB's shipped settings, recipes/asr.sh with LM_DIR end to end, and the
reader's wer_lm with its per-utterance outcomes."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from conftest import ASR_CONFIGS, LIBRISPEECH_MINI, checked, run_python, run_recipe
from s3prl_fusion.errors import MissingPathError
from s3prl_fusion.experiments.lm_decoding import lm_decoding_overrides, superb_decoder_args
from s3prl_fusion.prepare.asr_lm import build_lm, lm_files
from s3prl_fusion.results import ScoringError
from s3prl_fusion.results.asr import read_result
from s3prl_fusion.results.outcomes import Outcomes, point_estimate, read_outcomes
from s3prl_fusion.s3prl_adapter.patches.asr_task import checked_decoder_args

pytest.importorskip("flashlight.lib.text", reason="KenLM decoding needs flashlight-text (the superb extra)")
WORDS = ["EIGHT", "FIVE", "FOUR", "NINE", "NO", "ONE", "SEVEN", "SIX", "THREE", "TWO", "YES", "ZERO"]  # corpora/README.md


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("lm")
    build_lm(LIBRISPEECH_MINI, folder, order=3)
    return folder


def test_the_lm_folder_holds_an_arpa_model_and_a_letter_lexicon(lm_dir):
    model, lexicon = lm_files(lm_dir)
    assert model.name == "3-gram.arpa" and lexicon.name == "librispeech_lexicon.lst"
    assert lexicon.read_text().splitlines() == [f"{word}\t{' '.join(word)} |" for word in WORDS]
    header = model.read_text().split("\n\n")[0].splitlines()
    assert header[0] == "\\data\\" and header[1] == "ngram 1=15"  # 12 words, <s>, </s>, <unk>


@pytest.mark.parametrize("context", [[], ["FIVE"], ["FIVE", "NO"], ["NO", "FIVE"]])
def test_kenlm_reads_the_model_as_a_distribution_over_the_next_word(lm_dir, context):
    from flashlight.lib.text.decoder.kenlm import KenLM
    from flashlight.lib.text.dictionary import create_word_dict, load_words

    model, lexicon = lm_files(lm_dir)
    words = create_word_dict(load_words(str(lexicon)))
    lm = KenLM(str(model), words)
    state = lm.start(False)
    for word in context:
        state, _ = lm.score(state, words.get_index(word))
    total = sum(10 ** lm.score(state, words.get_index(word))[1] for word in WORDS) + 10 ** lm.finish(state)[1]
    assert 0.98 < total <= 1.0 + 1e-6  # the rest is <unk>'s share


def emissions(text: str, dictionary) -> torch.Tensor:
    """(1, frames, tokens) CTC log-probabilities spelling ``text`` with a blank after each character."""
    frames = [index for character in text for index in (dictionary.index(character), dictionary.bos())]
    logits = torch.full((len(frames), len(dictionary)), -10.0)
    logits[torch.arange(len(frames)), frames] = 0.0
    return torch.log_softmax(logits, dim=-1).unsqueeze(0).contiguous()


def test_s3prl_lexicon_decoder_with_the_shipped_settings_spells_lexicon_words(lm_dir):
    """The shipped config's decoder_args as YAML gives them (unk_weight the string -math.inf, which s3prl's own
    get_decoder could not evaluate) build s3prl's KenLM decoder; a misspelled word decodes to the lexicon's."""
    from s3prl.downstream.asr.dictionary import Dictionary
    from s3prl.downstream.asr.expert import get_decoder

    model, lexicon = lm_files(lm_dir)
    settings = {**superb_decoder_args(), "decoder_type": "kenlm", "kenlm_model": str(model), "lexicon": str(lexicon)}
    assert settings["unk_weight"] == "-math.inf" and (settings["beam"], settings["lm_weight"], settings["word_score"]) == (5, 2, -1)
    dictionary = Dictionary.load(str(ASR_CONFIGS / "char.dict"))
    decoder = get_decoder(settings, dictionary)
    assert decoder.decode(emissions("FIVA|NO|", dictionary))[0][0]["words"] == ["FIVE", "NO"]
    assert decoder.decode(emissions("ZERO|YES|", dictionary))[0][0]["words"] == ["ZERO", "YES"]


def test_a_missing_lm_file_is_named_with_its_setting(lm_dir):
    settings = {**superb_decoder_args(), "decoder_type": "kenlm", "kenlm_model": str(lm_dir / "3-gram.arpa"), "lexicon": str(lm_dir / "missing.lst")}
    with pytest.raises(MissingPathError, match=rf"decoder_args.lexicon = {lm_dir}/missing.lst \(file not found\)") as missing:
        checked_decoder_args(settings)
    assert "kenlm_model" not in str(missing.value)
    assert checked_decoder_args({**settings, "decoder_type": "None"})["unk_weight"] == "-math.inf"  # no LM: nothing checked


def test_the_recipe_names_a_missing_lm_file_before_training(tmp_path, lm_dir):
    partial = tmp_path / "lm"
    partial.mkdir()
    (partial / "3-gram.arpa").write_bytes((lm_dir / "3-gram.arpa").read_bytes())
    run = run_recipe("asr.sh", ["fused", "ws", str(LIBRISPEECH_MINI), str(tmp_path / "out")], LM_DIR=str(partial), STEPS="1")
    assert run.returncode == 2
    assert f"{partial}/librispeech_lexicon.lst not found" in run.stderr and "4-gram.arpa.gz" in run.stderr
    assert not list((tmp_path / "out").glob("*.ckpt"))


def test_prepare_asr_lm_help_says_what_superb_downloads():
    help_text = run_python(["-m", "s3prl_fusion.cli", "prepare", "asr-lm", "--help"]).stdout
    assert "https://www.openslr.org/resources/11/4-gram.arpa.gz" in help_text
    assert "https://dl.fbaipublicfiles.com/fairseq/wav2vec/librispeech_lexicon.lst" in help_text and "LM_DIR" in help_text


def test_lm_decoding_overrides_set_every_shipped_setting(lm_dir):
    overrides = dict(item.split("=", 1) for item in lm_decoding_overrides(lm_dir))
    prefix = "config.downstream_expert.datarc.decoder_args."
    assert overrides[prefix + "decoder_type"] == "'kenlm'" and overrides[prefix + "kenlm_model"] == f"'{lm_dir / '3-gram.arpa'}'"
    assert {key.removeprefix(prefix) for key in overrides} == set(superb_decoder_args())


def write_ark(path: Path, lines: dict[str, str]) -> None:
    path.write_text("".join(f"{utterance} {text}\n" for utterance, text in lines.items()))


def test_the_reader_gives_wer_and_wer_lm_with_outcomes_for_both(tmp_path):
    references = {"a": "FIVE NO", "b": "ONE TWO THREE"}
    write_ark(tmp_path / "test-clean-noLM-ref.ark", references)
    write_ark(tmp_path / "test-clean-noLM-hyp.ark", {"a": "FIVA NO", "b": "ONE THREE"})  # 1 + 1 word errors of 5
    write_ark(tmp_path / "test-clean-LM-ref.ark", references)
    write_ark(tmp_path / "test-clean-LM-hyp.ark", {"a": "FIVE NO", "b": "ONE TWO"})  # 0 + 1
    result = read_result(tmp_path, "test-clean")
    assert result["value"] == pytest.approx(40.0) and result["wer_lm"] == pytest.approx(20.0)
    outcomes = Outcomes.from_entry(result["outcomes"])
    assert list(outcomes.ids) == ["a", "b"] and result["outcome_units"] == "utterance"
    for metric, reported in (("value", result["value"]), ("wer_lm", result["wer_lm"]), ("cer", result["cer"])):
        assert point_estimate(outcomes, metric) == pytest.approx(reported, abs=1e-9)
    write_ark(tmp_path / "test-clean-LM-ref.ark", {"a": "FIVE NO"})
    with pytest.raises(ScoringError, match="hold different references"):
        read_result(tmp_path, "test-clean")


def test_the_asr_recipe_with_lm_dir_decodes_test_clean_with_and_without_the_lm(tmp_path, lm_dir):
    out_dir = tmp_path / "fused-ws"
    checked(run_recipe("asr.sh", ["fused", "ws", str(LIBRISPEECH_MINI), str(out_dir)], LM_DIR=str(lm_dir), STEPS="1",
                       CONFIG=str(ASR_CONFIGS / "demo.yaml")))
    test_utterances = sorted(path.name.removesuffix(".flac") for path in (LIBRISPEECH_MINI / "test-clean").rglob("*.flac"))
    for decoding in ("noLM", "LM"):
        assert sorted(line.split(" ", 1)[0] for line in (out_dir / f"test-clean-{decoding}-hyp.ark").read_text().splitlines()) == test_utterances
    result = json.loads((out_dir / "result.json").read_text())
    assert result["metric"] == "wer" and {"value", "wer_lm", "cer"} <= result.keys()
    outcomes = read_outcomes(out_dir / "result.json")  # the file result.json records, its checksum checked
    assert sorted(outcomes.ids) == test_utterances and result["outcomes"]["units"] == "utterance"
    assert point_estimate(outcomes, "value") == pytest.approx(result["value"], abs=1e-9)
    assert point_estimate(outcomes, "wer_lm") == pytest.approx(result["wer_lm"], abs=1e-9)
