"""The ``rwgan`` command: inpaint your own images, fetch the pretrained weights.

    rwgan inpaint --checkpoint model.pt --image photo.png --mask hole.png --out result.png
    rwgan inpaint --checkpoint model.pt --image photos/ --mask masks/ --out results/
    rwgan serve --checkpoint model.pt [--host 127.0.0.1] [--port 8000]
    rwgan fetch-weights [--cache-dir DIR]
    rwgan import-official --checkpoint places2.ckpt-6666 --dataset places2 --mask-type contiguous --out model.pt
    rwgan export-testset --masks work/paper/masks --images work/paper/data/celebahq/test --dataset celebahq --out testset/
    rwgan score --export testset/ --outputs my_method/ --out scores/ [--composite]

Mask files are white = hole (the object to remove), black = keep. Errors print one
line, ``error: <what is wrong>``, and exit with status 2; no partial output is left.
"""
from __future__ import annotations

import argparse
import sys

from rwgan.errors import RwganError


def _inpaint(args: argparse.Namespace) -> int:
    from rwgan import photo
    from rwgan.inference import load_inpainter

    jobs = photo.plan(args.image, args.mask, args.out)
    photo.inpaint_files(lambda: load_inpainter(args.checkpoint, device=args.device), jobs,
                        strategy=args.strategy, margin=args.crop_margin)
    print(f"wrote {args.out}" if len(jobs) == 1 else f"wrote {len(jobs)} images to {args.out}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from rwgan.inference import load_inpainter
    from rwgan.serve import serve

    inpainter = load_inpainter(args.checkpoint, device=args.device)
    return serve(inpainter, host=args.host, port=args.port, max_upload_mb=args.max_upload_mb,
                 max_side=args.max_side, open_browser=args.open)


def _fetch_weights(args: argparse.Namespace) -> int:
    from rwgan.assets import main as fetch_main

    argv = ["--cache-dir", args.cache_dir] if args.cache_dir else []
    argv += ["--caffe-vgg16", args.caffe_vgg16] if args.caffe_vgg16 else []
    return fetch_main(argv)


def _import_official(args: argparse.Namespace) -> int:
    from rwgan.official import import_official

    result = import_official(args.checkpoint, args.out, dataset=args.dataset, mask_type=args.mask_type,
                             discriminator_out=args.discriminator_out, verify=not args.no_verify)
    print(f"wrote {result.model} ({result.provenance['checkpoint']}, {args.dataset}, {args.mask_type}; "
          f"{result.skipped} optimizer tensors skipped)")
    if result.discriminator is not None:
        print(f"wrote {result.discriminator} (the region-wise discriminator)")
    return 0


def _export_testset(args: argparse.Namespace) -> int:
    from rwgan.external import export_testset

    count = export_testset(args.masks, args.images, args.sets, args.out, dataset=args.dataset)
    print(f"wrote {count} pairs of {', '.join(args.sets)} to {args.out} (manifest.csv lists them)")
    return 0


def _score(args: argparse.Namespace) -> int:
    from rwgan.evaluation import METRICS
    from rwgan.external import Scoring, score_outputs

    if args.composite:
        print("compositing: the known pixels of every output are replaced by the ground truth's (--composite)")
    scoring = Scoring(metrics=args.metrics or METRICS, batch_size=args.batch_size,
                      kid_subset_size=args.kid_subset_size, device=args.device)
    summary = score_outputs(args.export, args.outputs, args.out, args.method, args.composite, scoring)
    print(f"wrote {args.out}/per_image.csv and summary.csv ({len(summary)} rows, protocols rwgan and edgeconnect)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rwgan", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    inpaint = commands.add_parser("inpaint", help="fill the white region of --mask in --image")
    inpaint.add_argument("--checkpoint", required=True, help="a model.pt written by the train stage")
    inpaint.add_argument("--image", required=True,
                         help="a photo of any size and colour mode (EXIF orientation applied), or a folder of them")
    inpaint.add_argument("--mask", required=True,
                         help="binary mask of the upright photo's size, white = hole; or a folder of masks "
                              "named like the images (cat.jpg <-> cat.png); or one mask for a whole folder")
    inpaint.add_argument("--out", required=True,
                         help="the result .png (the photo's mode, alpha kept), or a folder for <stem>.png results")
    inpaint.add_argument("--strategy", choices=("crop", "resize", "original"), default="crop",
                         help="photos larger than the training size: crop (default) inpaints boxes around the "
                              "hole, resized to the training size; resize shrinks the whole photo; original runs "
                              "at full resolution")
    inpaint.add_argument("--crop-margin", type=int, default=128,
                         help="pixels of context around the hole in the crop strategy (default 128)")
    inpaint.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    inpaint.set_defaults(run=_inpaint)

    serve = commands.add_parser("serve", help="a local web page to paint over an object and remove it")
    serve.add_argument("--checkpoint", required=True, help="a model.pt written by the train stage")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1: this computer only)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    serve.add_argument("--max-upload-mb", type=float, default=40.0, help="largest photo file accepted (default 40)")
    serve.add_argument("--max-side", type=int, default=8192, help="largest photo side in pixels (default 8192)")
    serve.add_argument("--open", action="store_true", help="open the page in the default browser")
    serve.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    serve.set_defaults(run=_serve)

    fetch = commands.add_parser("fetch-weights", help="get VGG16 and FID Inception weights offline")
    fetch.add_argument("--cache-dir", help="default: $RWGAN_CACHE or ~/.cache/rwgan")
    fetch.add_argument("--caffe-vgg16", metavar="FILE",
                       help="also convert the official Caffe VGG16 (vgg16.npy or Keras' notop .h5)")
    fetch.set_defaults(run=_fetch_weights)

    official = commands.add_parser("import-official",
                                   help="convert the authors' TensorFlow checkpoint into a model.pt (no TensorFlow)")
    official.add_argument("--checkpoint", required=True,
                          help="the TF checkpoint: its prefix (e.g. places2.ckpt-6666), its .index file, or its "
                               "folder; every .data-*-of-* shard must lie beside the index")
    official.add_argument("--dataset", required=True, help="what it was trained on: celebahq, paris or places2")
    official.add_argument("--mask-type", required=True,
                          help="the masks it was trained on: contiguous or discontiguous")
    official.add_argument("--out", required=True, help="the model.pt to write (for rwgan inpaint / serve)")
    official.add_argument("--discriminator-out",
                          help="where the discriminator goes if the checkpoint has one "
                               "(default: <out stem>.discriminator.pt beside --out)")
    official.add_argument("--no-verify", action="store_true", help="skip the tensors' crc32c checks")
    official.set_defaults(run=_import_official)

    export = commands.add_parser("export-testset",
                                 help="write the fixed test pairs (image, mask, masked input, ground truth) for any method")
    export.add_argument("--masks", required=True, help="the masks folder, work/<profile>/masks")
    export.add_argument("--images", required=True, help="the prepared test images, work/<profile>/data/<dataset>/test")
    export.add_argument("--dataset", required=True, help="the dataset's name, written into the scores")
    export.add_argument("--sets", nargs="+", default=["contiguous", "discontiguous"],
                        help="mask sets to export (default: contiguous discontiguous, Tables I-III)")
    export.add_argument("--out", required=True, help="a new or empty folder")
    export.set_defaults(run=_export_testset)

    score = commands.add_parser("score", help="check and score a method's outputs of an exported test set")
    score.add_argument("--export", required=True, help="a folder written by export-testset")
    score.add_argument("--outputs", required=True, help="the method's results, one <pair id>.png per pair")
    score.add_argument("--out", required=True, help="where per_image.csv, summary.csv and score.json go")
    score.add_argument("--method", help="the method's name in summary.csv (default: the outputs folder's name)")
    score.add_argument("--composite", action="store_true",
                       help="paste the ground truth's known pixels over each output instead of refusing changed ones")
    score.add_argument("--metrics", nargs="+",
                       help="some of L1 L2 PSNR SSIM LPIPS FID KID (default: all; LPIPS, FID and KID need "
                            "`rwgan fetch-weights`)")
    score.add_argument("--kid-subset-size", type=int,
                       help="KID's subset size, as evaluate.kid_subset_size (default: min(1000, images in the bin))")
    score.add_argument("--batch-size", type=int, default=16, help="images scored at once (default 16)")
    score.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    score.set_defaults(run=_score)
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
