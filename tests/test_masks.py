"""rwgan.masks and the mask stage: bins, contiguity, determinism, manifests, regular and NVIDIA masks."""
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import write_params
from pipeline import masks as mask_stage
from rwgan import io, masks
from rwgan.errors import RwganError

BINS = [(0, 10), (10, 20), (20, 30), (30, 40), (40, 50)]
SWEEP_BINS = [(lo, lo + 10) for lo in range(50, 100, 10)]
NVIDIA = Path(__file__).resolve().parents[2] / "shared" / "data" / "nvidia-irregular-masks"


def _assert_type(hole, kind):
    if kind == "contiguous":
        assert masks.count_components(hole, connectivity=4) == 1
    else:
        assert masks.count_components(hole, connectivity=8) >= 2


# ------------------------------------------------------------------ rasterisation


def test_capsule_hand_computed():
    # A disc of width 3: pixel centres with 4 * d^2 <= 9, i.e. dy^2 + dx^2 <= 2: a 3x3 square.
    disc = masks.capsule((5, 5), (5, 5), 3, (12, 12))
    canvas = np.zeros((12, 12), bool)
    disc.window(canvas)[...] = disc.patch
    expected = np.zeros((12, 12), bool)
    expected[4:7, 4:7] = True
    np.testing.assert_array_equal(canvas, expected)
    # A horizontal stroke of width 2 from column 2 to 8: rows 4-6 (|dy| <= 1) along the
    # segment, plus the round caps' tips at (5, 1) and (5, 9).
    stroke = masks.capsule((5, 2), (5, 8), 2, (12, 12))
    canvas[...] = False
    stroke.window(canvas)[...] = stroke.patch
    expected[...] = False
    expected[4:7, 2:9] = True
    expected[5, 1] = expected[5, 9] = True
    np.testing.assert_array_equal(canvas, expected)


def test_elliptic_arc_hand_computed():
    # Ellipse x^2/9 + y^2/4 <= 1 around (10, 10), first axis along x, sector y >= 0 (rows below).
    half = [(0, 1), (0, -1)]
    filled = masks.elliptic_arc((10, 10), (3, 2), (0, 1), thickness=5, span=half, shape=(20, 20))
    # y = 0: |x| <= 3 (7 pixels); y = 1: x^2 <= 6.75 (5); y = 2: x = 0 (1).
    assert filled.patch.sum() == 13
    ring = masks.elliptic_arc((10, 10), (3, 2), (0, 1), thickness=1, span=half, shape=(20, 20))
    # Minus the inner ellipse x^2/4 + y^2 <= 1 (y = 0: 5 pixels, y = 1: 1).
    assert ring.patch.sum() == 7


def test_in_bin_is_half_open_and_exact():
    assert not masks.in_bin(0, 100, (0, 10))
    assert masks.in_bin(1, 100, (0, 10)) and masks.in_bin(10, 100, (0, 10))
    assert not masks.in_bin(10, 100, (10, 20)) and masks.in_bin(11, 100, (10, 20))
    assert masks.in_bin(100, 100, (90, 100))
    assert masks.bin_label((10, 20)) == "10-20%"
    assert masks.parse_bin("10-20%") == (10, 20) and masks.parse_bin([40, 50]) == (40, 50)


@pytest.mark.parametrize("value", ["10-5%", [20, 110], "ten", None])
def test_parse_bin_rejects(value):
    with pytest.raises(RwganError, match="bin"):
        masks.parse_bin(value)


# ------------------------------------------------------------------ generators


@pytest.mark.parametrize("kind", masks.KINDS)
@pytest.mark.parametrize("hole_bin", BINS)
def test_every_generated_mask_is_in_its_bin_and_of_its_type(kind, hole_bin):
    for size in (16, 64, 256):
        for hole in masks.generate_binned(kind, hole_bin, 1 if size == 256 else 3, seed=7, size=size):
            assert hole.shape == (size, size) and hole.dtype == bool
            assert masks.in_bin(int(hole.sum()), hole.size, hole_bin)
            _assert_type(hole, kind)


@pytest.mark.parametrize("hole_bin", SWEEP_BINS)
def test_sweep_bins_up_to_full_are_reachable(hole_bin):
    for hole in masks.generate_binned("contiguous", hole_bin, 1, seed=3, size=64):
        assert masks.in_bin(int(hole.sum()), hole.size, hole_bin)
        _assert_type(hole, "contiguous")


def test_masks_are_reproducible_to_the_bit():
    # Golden hashes: a change of generator, rasteriser or numpy's PCG64 stream shows here.
    golden = {
        "contiguous": "7861f899b6c98c1f05d04faf8e9c6a3ca54c26aae3baed32f78d4d0c5c3b0b1b",
        "discontiguous": "763a5e077c2f819a2917ebb4b11d933fafef4b893b2f3757c53b5a0655361bf6",
    }
    for kind, digest in golden.items():
        (hole,) = masks.generate_binned(kind, (20, 30), 1, seed=0, size=64)
        assert hashlib.sha256(np.packbits(hole).tobytes()).hexdigest() == digest


def test_each_mask_depends_only_on_its_index():
    together = masks.generate_binned("discontiguous", "10-20%", 4, seed=1, size=64)
    alone = masks.generate_binned("discontiguous", "10-20%", 1, seed=1, size=64, start=2)
    np.testing.assert_array_equal(together[2], alone[0])
    assert not np.array_equal(together[0], together[1])
    other_seed = masks.generate_binned("discontiguous", "10-20%", 1, seed=2, size=64)
    assert not np.array_equal(together[0], other_seed[0])


def test_training_sampler_ratio_and_determinism():
    ratios, kinds = [], set()
    for i in range(40):
        hole = masks.random_training_mask(np.random.default_rng(i), 64)
        again = masks.random_training_mask(np.random.default_rng(i), 64)
        np.testing.assert_array_equal(hole, again)
        ratios.append(hole.mean())
        kinds.add(masks.count_components(hole, connectivity=4) == 1)
    assert 0 < min(ratios) and max(ratios) <= 0.4
    assert max(ratios) > 0.3 and min(ratios) < 0.1  # spread over (0, 0.4]
    assert kinds == {True, False}  # both types occur in "mixed"
    for kind in masks.KINDS:
        for i in range(5):
            hole = masks.random_training_mask(np.random.default_rng(i), 64, kind=kind, max_ratio=0.2)
            assert 0 < hole.mean() <= 0.2
            _assert_type(hole, kind)


def test_training_sampler_rejects_bad_arguments():
    with pytest.raises(RwganError, match="kind"):
        masks.random_training_mask(np.random.default_rng(0), 64, kind="square")
    with pytest.raises(RwganError, match="max_ratio"):
        masks.random_training_mask(np.random.default_rng(0), 64, max_ratio=0)


def test_regular_masks():
    centred = masks.regular_mask(8, 4)
    expected = np.zeros((8, 8), bool)
    expected[2:6, 2:6] = True
    np.testing.assert_array_equal(centred, expected)
    placed = masks.regular_mask(16, 4, (0, 12))
    assert placed[0:4, 12:16].all() and placed.sum() == 16
    for i in range(10):
        hole = masks.random_regular_mask(np.random.default_rng(i), 32, 8)
        rows, cols = np.nonzero(hole)
        assert hole.sum() == 64 and np.ptp(rows) == 7 and np.ptp(cols) == 7
    with pytest.raises(RwganError, match="does not fit"):
        masks.regular_mask(16, 8, (10, 0))
    with pytest.raises(RwganError, match="hole_size"):
        masks.regular_mask(16, 17)


# ------------------------------------------------------------------ the mask stage


def _write_params(folder: Path, masks_section: dict) -> None:
    write_params(folder, seed=0, image_size=64, datasets=["embedded"], masks=masks_section)


SECTION = {
    "workers": 2,
    "sets": ["contiguous", "discontiguous", "regular", "sweep"],
    "bins": ["0-10%", "20-30%", "40-50%"],
    "per_bin": 3,
    "regular": {"hole_fraction": 0.5, "per_bin": 2},
    "sweep": {"kind": "contiguous", "bins": ["80-90%", "90-100%"], "per_bin": 1},
    "nvidia": {"path": None, "per_bin": 1},
}


def _files(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): io.sha256_file(p) for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """The stage run twice with the same seed, with 2 workers and with 1."""
    runs = []
    for workers in (2, 1):
        folder = tmp_path_factory.mktemp(f"masks-{workers}")
        _write_params(folder, {**SECTION, "workers": workers})
        with pytest.MonkeyPatch.context() as patch:
            patch.chdir(folder)
            mask_stage.main(["--profile", "t"])
        runs.append(folder)
    return runs


def test_stage_is_byte_identical_for_the_same_seed(two_runs):
    first, second = (_files(run / "work" / "t" / "masks") for run in two_runs)
    assert first == second and len(first) == 2 * 3 * 3 + 2 * 2 + 2 + 4  # masks + 4 manifests
    checksums = [(run / "reports" / "t" / "masks.sha256").read_text() for run in two_runs]
    assert checksums[0] == checksums[1]


def test_manifests_describe_their_files(two_runs):
    root = two_runs[0] / "work" / "t" / "masks"
    listed = []
    for set_name in SECTION["sets"]:
        rows = masks.read_mask_manifest(root / set_name)
        for row in rows:
            hole = io.read_mask(root / set_name / row["file"], 64, allow_full=True)
            assert row["file"].startswith(row["bin"] + "/")
            assert int(row["hole_pixels"]) == hole.sum()
            assert float(row["hole_ratio"]) == hole.sum() / hole.size
            assert int(row["components"]) == masks.count_components(hole)
            assert row["sha256"] == io.sha256_file(root / set_name / row["file"])
            if row["type"] in masks.KINDS:
                assert masks.in_bin(int(row["hole_pixels"]), hole.size, masks.parse_bin(row["bin"]))
                _assert_type(hole, row["type"])
            listed.append(f"{row['sha256']}  {set_name}/{row['file']}")
    bins = masks.mask_bins(root / "regular")
    assert list(bins) == ["centred", "random"] and all(len(files) == 2 for files in bins.values())
    assert all(io.read_mask(path).sum() == 32 * 32 for files in bins.values() for path in files)
    checksums = (two_runs[0] / "reports" / "t" / "masks.sha256").read_text().splitlines()
    assert checksums == sorted(listed)


def test_stage_rebuilds_one_set_and_reports_missing_nvidia_path(tmp_path, monkeypatch):
    _write_params(tmp_path, {**SECTION, "sets": ["regular", "nvidia"]})
    monkeypatch.chdir(tmp_path)
    mask_stage.main(["--profile", "t", "--set", "regular"])
    assert (tmp_path / "work" / "t" / "masks" / "regular" / "manifest.csv").is_file()
    with pytest.raises(RwganError, match="masks.nvidia.path: not set"):
        mask_stage.main(["--profile", "t", "--set", "nvidia"])
    assert not (tmp_path / "work" / "t" / "masks" / ".nvidia.partial").exists()
    with pytest.raises(RwganError, match="--set sweep: not in"):
        mask_stage.main(["--profile", "t", "--set", "sweep"])


@pytest.mark.skipif(not NVIDIA.is_dir(), reason="../shared/data/nvidia-irregular-masks absent")
def test_nvidia_masks_binned_by_their_own_ratio(tmp_path, monkeypatch):
    source = tmp_path / "nvidia"
    source.mkdir()
    for name in ("00000", "00001", "02000", "02001", "04000", "04001", "11999"):  # 1-10%, 10-20%, 20-30%, 50-60%
        shutil.copy(NVIDIA / f"{name}.png", source)
    section = {**SECTION, "sets": ["nvidia"], "bins": ["0-10%", "10-20%", "20-30%"], "workers": 1,
               "nvidia": {"path": str(source), "per_bin": 2}}
    _write_params(tmp_path, section)
    monkeypatch.chdir(tmp_path)
    mask_stage.main(["--profile", "t"])
    root = tmp_path / "work" / "t" / "masks" / "nvidia"
    rows = masks.read_mask_manifest(root)
    assert len(rows) == 6 and {row["type"] for row in rows} == {"nvidia"}
    for row in rows:
        hole = io.read_mask(root / row["file"], 64)
        assert masks.in_bin(int(hole.sum()), hole.size, masks.parse_bin(row["bin"]))
        # Nearest resize keeps the source's own ratio to within a few percent.
        original = io.read_mask(source / Path(row["file"]).name)
        assert abs(hole.mean() - original.mean()) < 0.03
