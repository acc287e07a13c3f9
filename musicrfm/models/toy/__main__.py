"""Command line: `python -m musicrfm.models.toy` trains the toy model into the cache (or finds it there) and
prints its folder.

>>> from musicrfm.models.toy.__main__ import parse_args
>>> parse_args(["--seed", "3"]).seed
3
"""

from __future__ import annotations

import argparse

import torch

from musicrfm.models.toy.load import toy_folder
from musicrfm.models.toy.train import ToyTrainConfig


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m musicrfm.models.toy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=ToyTrainConfig.seed)
    parser.add_argument("--steps", type=int, default=ToyTrainConfig.steps)
    parser.add_argument("--cache-dir", default=None, help="default: $MUSICRFM_CACHE or ~/.cache/musicrfm")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.threads is not None:
        if args.threads < 1:
            raise SystemExit(f"--threads must be a positive integer, got {args.threads}")
        torch.set_num_threads(args.threads)
    print(toy_folder(ToyTrainConfig(seed=args.seed, steps=args.steps), cache_dir=args.cache_dir))


if __name__ == "__main__":
    main()
