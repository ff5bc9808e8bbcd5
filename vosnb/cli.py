"""The `vosnb` command: one sub-command per concern, each defined next to the code it runs.

Every module named below provides ``configure_parser(parser)`` (adds its arguments) and ``run(args) -> int``.
Modules are imported only when their command is used, so `vosnb --help` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from vosnb.errors import VosnbError

# (command words, module, one-line help)
COMMANDS: list[tuple[tuple[str, ...], str, str]] = [
    (("data", "synth"), "vosnb.data.synthetic", "write the embedded synthetic data set in the DAVIS layout"),
    (("data", "download"), "vosnb.data.download", "download, verify and extract DAVIS 2017 trainval 480p"),
    (("eval",), "vosnb.metrics", "score DAVIS-layout predictions against ground truth (J, F, recall, decay)"),
    (("claims",), "vosnb.claims", "print the claims ledger"),
    (("reproduce",), "vosnb.pipeline", "execute the notebooks in order with papermill"),
    (("infer",), "vosnb.inference", "propagate a model over a data set and write DAVIS-layout predictions"),
    (("train",), "vosnb.train", "train a small STCN variant from a config file"),
]


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vosnb", description="Reproduce memory-based VOS papers.")
    sub = parser.add_subparsers(dest="command", required=True)
    groups: dict[str, argparse._SubParsersAction] = {}
    for words, module, help_text in COMMANDS:
        if len(words) == 1:
            p = sub.add_parser(words[0], help=help_text)
        else:
            if words[0] not in groups:
                g = sub.add_parser(words[0], help=f"{words[0]} commands")
                groups[words[0]] = g.add_subparsers(dest="subcommand", required=True)
            p = groups[words[0]].add_parser(words[1], help=help_text)
        p.set_defaults(_module=module)
        # Only import the module whose command is being run (or all of them for --help listings of that command).
        if argv[: len(words)] == list(words):
            importlib.import_module(module).configure_parser(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv).parse_args(argv)
    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except VosnbError as exc:
        print(f"vosnb: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
