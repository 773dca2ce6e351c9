"""A user's mistake ends an entry point with its message and exit status 2; other errors stay tracebacks."""
from __future__ import annotations

import pytest
from torch.utils.data import DataLoader, Dataset

from conftest import run_python
from s3prl_fusion.errors import TRACEBACK_ENV, MissingPathError, SettingError, UserError, report_user_errors


def fails_with(error: Exception):
    @report_user_errors
    def main():
        raise error

    return main


def test_a_user_error_is_one_message_and_exit_status_2(capsys, monkeypatch):
    monkeypatch.delenv(TRACEBACK_ENV, raising=False)
    with pytest.raises(SystemExit) as ended:
        fails_with(SettingError("autocast must be one of none, bf16, fp16; got 'bf32'"))()
    assert ended.value.code == 2
    assert capsys.readouterr().err == "error: autocast must be one of none, bf16, fp16; got 'bf32'\n"


def test_a_user_error_wrapped_in_another_error_is_still_reported(capsys):
    def main():
        try:
            raise UserError("file /data/a.wav is empty")
        except UserError as cause:
            raise RuntimeError("the data loader failed") from cause

    with pytest.raises(SystemExit) as ended:
        report_user_errors(main)()
    assert ended.value.code == 2
    assert capsys.readouterr().err == "error: file /data/a.wav is empty\n"


def test_the_traceback_is_printed_when_asked_for(capsys, monkeypatch):
    monkeypatch.setenv(TRACEBACK_ENV, "1")
    with pytest.raises(SystemExit):
        fails_with(SettingError("bad setting"))()
    err = capsys.readouterr().err
    assert "Traceback" in err and err.endswith("error: bad setting\n")


def test_other_errors_keep_their_traceback():
    with pytest.raises(ZeroDivisionError):
        fails_with(ZeroDivisionError("a bug"))()


class _Unreadable(Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, index):
        raise MissingPathError(f"audio file /corpus/utt-{index}.flac does not exist")


def test_an_error_raised_in_a_dataloader_worker_is_its_message_alone(capsys):
    @report_user_errors
    def main():
        list(DataLoader(_Unreadable(), num_workers=1))

    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    assert capsys.readouterr().err == "error: audio file /corpus/utt-0.flac does not exist\n"


# A bug raised while a UserError is being handled: it must not pass for that user error.
BUG_WHILE_HANDLING = """
import sys
from s3prl_fusion import cli
from s3prl_fusion.commands import listing
from s3prl_fusion.errors import SettingError, install_excepthook

def broken(args):
    try:
        raise SettingError("autocast must be one of none, bf16, fp16")
    except SettingError:
        {}["a key the handler forgot"]

listing.run = broken
if sys.argv[1] == "excepthook":
    install_excepthook()
    broken(None)
cli.main(["list"])
"""


@pytest.mark.parametrize("entry", ["cli", "excepthook"])
def test_a_bug_while_handling_a_user_error_keeps_its_traceback(entry, monkeypatch):
    monkeypatch.delenv(TRACEBACK_ENV, raising=False)
    result = run_python(["-c", BUG_WHILE_HANDLING, entry], check=False)
    assert result.returncode not in (0, 2), result.stderr[-3000:]
    assert "Traceback" in result.stderr and "KeyError: 'a key the handler forgot'" in result.stderr, result.stderr[-3000:]
    assert not any(line.startswith("error: ") for line in result.stderr.splitlines()), result.stderr[-3000:]
