"""The `vosnb` command: one sub-command per concern.

Parse first, import after: every command's arguments are declared here, with nothing heavier than the standard
library, so `vosnb <command> --help` answers at once; the module named in ``COMMANDS`` (which may import torch) is
imported only to run the command, through its ``run(args) -> int``.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from pathlib import Path

from vosnb.errors import VosnbError
from vosnb.options import DATASETS, DEVICES, PROFILES, VERDICTS


def positive_int(text: str) -> int:
    """argparse type: an integer ≥ 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", choices=DEVICES, default="auto",
                        help="auto: CUDA when available, else the CPU (default: auto)")


def _synth(parser: argparse.ArgumentParser) -> None:
    from vosnb.data.synthetic import SynthConfig  # numpy and OpenCV only: fast

    defaults = SynthConfig()
    parser.add_argument("--out", required=True, type=Path, help="folder to write the set to (created)")
    parser.add_argument("--seed", type=int, default=defaults.seed,
                        help="base seed; val and train derive theirs (default: %(default)s)")
    for field in ("val_sequences", "val_length", "train_sequences", "train_length", "height", "width", "max_objects"):
        parser.add_argument(f"--{field.replace('_', '-')}", type=int, default=getattr(defaults, field),
                            help="default: %(default)s")
    parser.add_argument("--knob-rate", type=float, default=defaults.knob_rate,
                        help="fraction of sequences per knob (default: %(default)s)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _download(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", choices=("davis2017",), help="data set to fetch")
    parser.add_argument("--root", required=True, type=Path, help="folder to download and extract into")
    parser.add_argument("--url", help="download from this URL instead of the manifest's (a mirror)")
    parser.add_argument("--sha256", help="expected sha256 of the archive (overrides the manifest)")
    parser.add_argument("--keep-archive", action="store_true", help="keep the .zip after extracting it")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _eval(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gt", required=True, type=Path, help="ground-truth folder of <sequence>/<frame>.png")
    parser.add_argument("--pred", required=True, type=Path, help="prediction folder of <sequence>/<frame>.png")
    parser.add_argument("--csv", type=Path, help="write the per-object scores to this CSV file")
    parser.add_argument("--sequences", nargs="+", help="score only these sequences (default: all in --gt)")
    parser.add_argument("--workers", type=positive_int, default=2, help="processes (default: 2)")


def _claims(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table",
                        help="plain-text table fitting 120 columns (default), CSV with every field, or a JSON list")
    parser.add_argument("--results", type=Path, default=None, help="folder of <notebook>.jsonl (default: results/)")
    parser.add_argument("--notebook", default=None, help="only this notebook (stem or number, e.g. 02)")
    parser.add_argument("--paper", default=None, help="only this paper's claims (ID prefix, e.g. STCN)")
    parser.add_argument("--verdict", choices=VERDICTS, default=None, help="only records with this verdict")
    parser.add_argument("--catalogue-md", action="store_true",
                        help="print the catalogue as markdown (the source of vosnb/CLAIMS.md) and exit")


def _dashboard(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=Path, help="HTML file to write (replaced atomically)")
    parser.add_argument("--results", type=Path, default=None, help="folder of <notebook>.jsonl (default: results/)")
    parser.add_argument("--notebook-base", default="notebooks/",
                        help="link prefix of the notebook pages, relative to the page (default: %(default)s)")


def _reproduce(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", choices=PROFILES, default="ci",
                        help="ci: minutes on a 2-core CPU (default); full: paper scale")
    parser.add_argument("--only", default=None, help="comma-separated notebook numbers, e.g. 00,02 (default: all)")
    parser.add_argument("--dataset", choices=DATASETS, default="synthetic",
                        help="synthetic: the embedded set (default); davis2017: real DAVIS, needs --data-root")
    parser.add_argument("--data-root", type=Path, default=None,
                        help="data set folder (required for davis2017; default for synthetic: data/synthetic)")
    _device(parser)
    parser.add_argument("--seed", type=int, default=0, help="seed of every generator (default: 0)")
    parser.add_argument("--in-place", action="store_true",
                        help="replace the committed notebooks by their executed copies and re-sync the .py twins")


def _infer(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-root", required=True, type=Path, help="DAVIS-layout root (JPEGImages/, Annotations/)")
    parser.add_argument("--checkpoint", required=True, type=Path,
                        help="the authors' stcn.pth or RDE-VOS checkpoint, or a vosnb checkpoint "
                             "(data/checkpoints/*.pth)")
    parser.add_argument("--memory", default="every5",
                        help="memory strategy: every5, every5+last, first_last, lfu, swem, rde (with an RDE-VOS "
                             "checkpoint; the authors use --top-k 40 on DAVIS)")
    parser.add_argument("--out", required=True, type=Path, help="folder for <sequence>/<frame>.png predictions")
    parser.add_argument("--split", default="val", help="the ImageSets/2017/<split>.txt list to run (default: val)")
    parser.add_argument("--resolution", default="480p",
                        help="the JPEGImages/<resolution> folder to read (default: 480p)")
    parser.add_argument("--top-k", type=int, default=20, help="top-k filtering of the affinity (0: full softmax)")
    _device(parser)


def _train(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", type=Path, help="a YAML training config (configs/train/*.yaml)")
    _device(parser)
    parser.add_argument("--no-resume", action="store_true", help="start from scratch even if a saved state exists")
    parser.add_argument("--steps", type=int, help="override the config's number of steps")
    parser.add_argument("--stop-at", type=int, help="stop after this step with a resumable state (train in slices)")


# (command words, module that runs it, its arguments, one-line help)
COMMANDS: list[tuple[tuple[str, ...], str, Callable[[argparse.ArgumentParser], None], str]] = [
    (("data", "synth"), "vosnb.data.synthetic", _synth, "write the embedded synthetic data set in the DAVIS layout"),
    (("data", "download"), "vosnb.data.download", _download, "download, verify and extract DAVIS 2017 trainval 480p"),
    (("eval",), "vosnb.metrics", _eval, "score DAVIS-layout predictions against ground truth (J, F, recall, decay)"),
    (("claims",), "vosnb.claims", _claims, "print the claims ledger"),
    (("dashboard",), "vosnb.dashboard", _dashboard, "write the claims ledger as one self-contained HTML page"),
    (("reproduce",), "vosnb.pipeline", _reproduce, "execute the notebooks in order with papermill"),
    (("infer",), "vosnb.inference", _infer, "propagate a model over a data set and write DAVIS-layout predictions"),
    (("train",), "vosnb.train", _train, "train a small STCN or RDE-VOS variant from a config file"),
]


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vosnb", description="Reproduce memory-based VOS papers.")
    sub = parser.add_subparsers(dest="command", required=True)
    groups: dict[str, argparse._SubParsersAction] = {}
    for words, module, declare, help_text in COMMANDS:
        if len(words) == 1:
            p = sub.add_parser(words[0], help=help_text, description=help_text)
        else:
            if words[0] not in groups:
                g = sub.add_parser(words[0], help=f"{words[0]} commands")
                groups[words[0]] = g.add_subparsers(dest="subcommand", required=True)
            p = groups[words[0]].add_parser(words[1], help=help_text, description=help_text)
        p.set_defaults(_module=module)
        if argv[: len(words)] == list(words):  # only the command being run declares its arguments
            declare(p)
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
