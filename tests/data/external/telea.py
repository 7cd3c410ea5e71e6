"""An "external method" for tests/test_score.py: OpenCV's Telea on an rwgan test-set export.

Deliberately outside the rwgan package (numpy, OpenCV and the csv module only), as a
researcher's own script would be:

    python telea.py EXPORT_DIR OUTPUTS_DIR RADIUS

reads EXPORT_DIR/manifest.csv, inpaints each pair's masked input (masked/<pair>.png, the
hole painted white) under its mask (mask/<pair>.png, white = hole) and writes
OUTPUTS_DIR/<pair>.png.  The masked input matters: OpenCV's Telea reads pixels under its
mask, and rwgan's own Telea is given the same white-filled image (rwgan.classical).
"""
import csv
import sys
from pathlib import Path

import cv2
import numpy as np


def main(export_dir: str, outputs_dir: str, radius: str) -> None:
    export, outputs = Path(export_dir), Path(outputs_dir)
    outputs.mkdir(parents=True, exist_ok=True)
    with open(export / "manifest.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            image = cv2.imread(str(export / row["masked"]), cv2.IMREAD_COLOR)
            hole = (cv2.imread(str(export / row["mask"]), cv2.IMREAD_GRAYSCALE) > 127).astype(np.uint8)
            filled = cv2.inpaint(image, hole, int(radius), cv2.INPAINT_TELEA)
            cv2.imwrite(str(outputs / f"{row['pair']}.png"), filled)


if __name__ == "__main__":
    main(*sys.argv[1:])
