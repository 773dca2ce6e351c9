"""`s3prl-fusion prepare` for the SUPERB data sets: each checks the bundled miniature as s3prl reads
it, and each missing or malformed piece stops with the commands (or the fix) that supply it."""
from __future__ import annotations

import shutil

import pytest

from conftest import REPO_ROOT, command_failure
from s3prl_fusion.cli import main as cli_main
from s3prl_fusion.errors import MissingPathError, SettingError
from s3prl_fusion.prepare.fluent_commands import check_fluent_commands
from s3prl_fusion.prepare.libriphone import check_phone_transcripts
from s3prl_fusion.prepare.snips import check_snips, slots_text, tag_counts
from s3prl_fusion.prepare.speech_commands import check_speech_commands
from s3prl_fusion.prepare.voxceleb1 import check_identification_split

CORPORA = REPO_ROOT / "corpora"
LEXICON = CORPORA / "LibriSpeech" / "phones" / "lexicon.txt"


def prepared(capsys, *arguments: str) -> str:
    capsys.readouterr()
    cli_main(["prepare", *arguments])
    return capsys.readouterr().out


def test_each_bundled_superb_corpus_is_ready(capsys):
    printed = prepared(capsys, "speech-commands", "--root", str(CORPORA / "SpeechCommands"))
    assert "Speech Commands ready: 36 training clips, 2 background noise files, 13 test clips" in printed
    printed = prepared(capsys, "fluent-commands", "--root", str(CORPORA / "fluent_speech_commands_dataset"))
    assert "Fluent Speech Commands ready: 16 train, 4 valid, 4 test utterances" in printed
    printed = prepared(capsys, "voxceleb1", "--root", str(CORPORA / "VoxCeleb1"), "--split", str(CORPORA / "VoxCeleb1" / "iden_split_mini.txt"))
    assert "VoxCeleb1 identification split ready: 24 train, 12 dev, 12 test files" in printed
    printed = prepared(capsys, "libriphone", "--root", str(CORPORA / "LibriSpeech"), "--lexicon", str(LEXICON))
    assert "LibriSpeech phone transcripts ready: 128 train-clean-100, 16 dev-clean, 16 test-clean utterances" in printed
    assert f"config.downstream_expert.corpus.lexicon=['{LEXICON}']" in printed
    printed = prepared(capsys, "snips", "--root", str(CORPORA / "SNIPS"))
    assert "SNIPS ready: 12 train, 4 valid, 4 test wav files" in printed and "wrote" not in printed


def test_a_missing_download_stops_with_the_commands_that_fetch_it(tmp_path):
    shutil.copytree(CORPORA / "SpeechCommands" / "speech_commands_v0.01", tmp_path / "speech_commands_v0.01")
    message = command_failure("prepare", "speech-commands", "--root", str(tmp_path))
    assert f"error: the Speech Commands v0.01 test set not found at {tmp_path / 'speech_commands_test_set_v0.01'}" in message
    with pytest.raises(MissingPathError) as missing:
        check_speech_commands(tmp_path)
    assert "wget http://download.tensorflow.org/data/speech_commands_test_set_v0.01.tar.gz" in str(missing.value)
    assert f"tar zxf speech_commands_test_set_v0.01.tar.gz -C {tmp_path / 'speech_commands_test_set_v0.01'}" in str(missing.value)
    with pytest.raises(MissingPathError, match=r"wget https://www.robots.ox.ac.uk/~vgg/data/voxceleb/meta/iden_split.txt -O .*iden_split.txt"):
        check_identification_split(CORPORA / "VoxCeleb1", CORPORA / "VoxCeleb1" / "iden_split.txt")
    with pytest.raises(MissingPathError, match=r"wget https://raw.githubusercontent.com/s3prl/s3prl/[0-9a-f]{40}/s3prl/downstream/ctc/lexicon/"
                                               r"librispeech-lexicon-200k-g2p.txt -O .*LibriSpeech/lexicon/librispeech-lexicon-200k-g2p.txt"):
        check_phone_transcripts(CORPORA / "LibriSpeech", [CORPORA / "LibriSpeech" / "lexicon" / "librispeech-lexicon-200k-g2p.txt"])
    with pytest.raises(MissingPathError, match="snips_prepare_data.sh"):
        check_snips(tmp_path / "SNIPS")


def test_speech_commands_without_background_noise_names_the_silence_class(tmp_path):
    shutil.copytree(CORPORA / "SpeechCommands", tmp_path / "SpeechCommands")
    shutil.rmtree(tmp_path / "SpeechCommands" / "speech_commands_v0.01" / "_background_noise_")
    with pytest.raises(MissingPathError, match="no _background_noise_/.*the _silence_ class is cut from them"):
        check_speech_commands(tmp_path / "SpeechCommands")


def test_a_word_no_lexicon_lists_is_named_before_training(tmp_path):
    lexicon = tmp_path / "lexicon.txt"
    lexicon.write_text("".join(line + "\n" for line in LEXICON.read_text().splitlines() if not line.startswith(("SEVEN ", "NINE "))))
    with pytest.raises(SettingError, match=r"2 word\(s\) of the transcripts are in no lexicon \(NINE SEVEN\)"):
        check_phone_transcripts(CORPORA / "LibriSpeech", [lexicon])


def test_intent_labels_training_lacks_are_named(tmp_path):
    root = tmp_path / "fluent_speech_commands_dataset"
    shutil.copytree(CORPORA / "fluent_speech_commands_dataset", root)
    test_list = root / "data" / "test_data.csv"
    test_list.write_text(test_list.read_text().replace(",washroom\n", ",garage\n", 1))
    with pytest.raises(SettingError, match="data/test_data.csv has location label\\(s\\) garage that train_data.csv lacks"):
        check_fluent_commands(root)


def test_a_split_file_naming_absent_audio_is_refused(tmp_path):
    split = tmp_path / "iden_split.txt"
    split.write_text((CORPORA / "VoxCeleb1" / "iden_split_mini.txt").read_text() + "3 id10999/abcdefghijk/00001.wav\n")
    with pytest.raises(MissingPathError, match=r"1 file\(s\) .*iden_split.txt lists are not under .*: id10999/abcdefghijk/00001.wav"):
        check_identification_split(CORPORA / "VoxCeleb1", split)


def test_snips_slots_file_is_written_where_missing_and_checked_where_present(tmp_path, capsys):
    from s3prl.downstream.ctc.text import CharacterTextSlotEncoder

    root = tmp_path / "SNIPS"
    shutil.copytree(CORPORA / "SNIPS", root)
    (root / "slots.txt").unlink()
    assert "wrote" in prepared(capsys, "snips", "--root", str(root))
    written = (root / "slots.txt").read_text()
    assert written == slots_text(tag_counts(root / "all.iob.snips.txt")) and not written.endswith("\n")
    assert set(written.split("\n")) == set((CORPORA / "SNIPS" / "slots.txt").read_text().split("\n"))
    encoder = CharacterTextSlotEncoder.load_from_file(str(REPO_ROOT / "downstream_configs" / "ctc" / "character.txt"), str(root / "slots.txt"))
    assert len(encoder.slots) == 2 * (len(written.split("\n")) - 1) and "B-" not in encoder.slots  # no empty slot read
    (root / "slots.txt").write_text(written + "\n")
    with pytest.raises(SettingError, match="ends with a newline"):
        check_snips(root)
    (root / "slots.txt").write_text("O\ncity")
    with pytest.raises(SettingError, match="list every tag of all.iob.snips.txt \\(missing: .*artist"):
        check_snips(root)
