"""The ``rwgan`` command: inpaint your own images, fetch the pretrained weights.

    rwgan inpaint --checkpoint model.pt --image photo.png --mask hole.png --out result.png
    rwgan fetch-weights [--cache-dir DIR]

Mask files are white = hole (the object to remove), black = keep. Errors print one
line, ``error: <what is wrong>``, and exit with status 2; no partial output is left.
"""
from __future__ import annotations

import argparse
import sys

from rwgan.errors import RwganError


def _inpaint(args: argparse.Namespace) -> int:
    from rwgan import io
    from rwgan.inference import load_inpainter

    image = io.read_image(args.image)
    hole = io.read_mask(args.mask)
    if hole.shape != image.shape[:2]:
        raise RwganError(
            f"{args.mask}: mask is {hole.shape[1]}x{hole.shape[0]} but {args.image} is "
            f"{image.shape[1]}x{image.shape[0]} (expected the same size)"
        )
    inpainter = load_inpainter(args.checkpoint, device=args.device)
    result = inpainter.inpaint(image[None], hole[None])[0]
    io.save_png(args.out, result)
    print(f"wrote {args.out}")
    return 0


def _fetch_weights(args: argparse.Namespace) -> int:
    from rwgan.assets import main as fetch_main

    argv = ["--cache-dir", args.cache_dir] if args.cache_dir else []
    return fetch_main(argv)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rwgan", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    inpaint = commands.add_parser("inpaint", help="fill the white region of --mask in --image")
    inpaint.add_argument("--checkpoint", required=True, help="a model.pt written by the train stage")
    inpaint.add_argument("--image", required=True, help="RGB image; height and width divisible by 4")
    inpaint.add_argument("--mask", required=True, help="binary PNG of the same size, white = hole")
    inpaint.add_argument("--out", required=True, help="where to write the inpainted PNG")
    inpaint.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    inpaint.set_defaults(run=_inpaint)

    fetch = commands.add_parser("fetch-weights", help="get VGG16 and FID Inception weights offline")
    fetch.add_argument("--cache-dir", help="default: $RWGAN_CACHE or ~/.cache/rwgan")
    fetch.set_defaults(run=_fetch_weights)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except RwganError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
