"""The command line: help parses before anything heavy is imported, and errors read as one plain line."""
from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from vosnb import cli

COMMANDS = [list(words) for words, *_ in cli.COMMANDS]


@pytest.mark.parametrize("words", COMMANDS, ids=" ".join)
def test_help_answers_without_importing_torch(words):
    code = ("import sys\nfrom vosnb import cli\ntry:\n    cli.main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "print('torch imported' if 'torch' in sys.modules else 'no torch')")
    out = subprocess.run([sys.executable, "-c", code, *words, "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.rstrip().endswith("no torch") and "usage: vosnb" in out.stdout


def command_parser(words: list[str]) -> argparse.ArgumentParser:
    """The sub-parser of `vosnb <words>`, with its arguments declared."""
    parser = cli.build_parser(words)
    for word in words:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[word]
    return parser


@pytest.mark.parametrize("words", COMMANDS, ids=" ".join)
def test_every_option_has_help(words):
    actions = [a for a in command_parser(words)._actions if not isinstance(a, argparse._HelpAction)]
    assert actions
    assert [a.dest for a in actions if not (a.help or "").strip()] == []


def test_errors_are_one_plain_line(tmp_path, capsys):
    assert cli.main(["claims", "--results", str(tmp_path / "absent")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vosnb: error: results folder") and "'" not in err and err.count("\n") == 1
