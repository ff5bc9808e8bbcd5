"""vosnb.metrics against the official DAVIS 2017 semantics.

Oracles (test-only, requirements-oracles.txt): `segmetric` (esdft-segmetric; its metrics and db_statistics are copies
of davisvideochallenge/davis2017-evaluation) and `vos_benchmark` (hkchengrex; per-frame J and F). Everything is
cross-checked to 1e-6 on random masks and on whole synthetic sequences built here (smooth random blobs drifting over
time; predictions are shifted, eroded, dilated or dropped copies).
"""
from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from segmetric import metrics as official
from segmetric import utils as official_utils
from segmetric.evaluation import _evaluate_sequence as official_evaluate_sequence
from vos_benchmark.evaluator import Evaluator

from vosnb import cli, metrics
from vosnb.errors import DataError

TOL = 1e-6
PALETTE = np.random.default_rng(0).integers(0, 256, 768).astype(np.uint8).tolist()


# ---------------------------------------------------------------------------------------------------------------
# Builders
# ---------------------------------------------------------------------------------------------------------------
def _shift(mask: np.ndarray, dy: float, dx: float) -> np.ndarray:
    h, w = mask.shape
    moved = cv2.warpAffine(mask.astype(np.uint8), np.float32([[1, 0, dx], [0, 1, dy]]), (w, h),
                           flags=cv2.INTER_NEAREST, borderValue=0)
    return moved.astype(bool)


def blob_sequence(rng: np.random.Generator, frames: int, height: int, width: int, objects: int) -> np.ndarray:
    """[T, H, W] uint8 ids: smooth random blobs (thresholded blurred noise), each drifting on a straight line."""
    labels = np.zeros((frames, height, width), np.uint8)
    for obj in range(1, objects + 1):
        field = cv2.GaussianBlur(rng.random((height, width)), (0, 0), min(height, width) / 8)
        shape = field > np.quantile(field, rng.uniform(0.75, 0.92))
        vy, vx = rng.uniform(-1.5, 1.5, 2)
        for t in range(frames):
            labels[t][_shift(shape, vy * t, vx * t)] = obj
    return labels


def perturb(gt: np.ndarray, rng: np.random.Generator, max_id: int) -> np.ndarray:
    """A plausible prediction: per object and frame, a shifted, eroded, dilated, dropped or kept copy."""
    pred = np.zeros_like(gt)
    kernel = np.ones((3, 3), np.uint8)
    for t in range(len(gt)):
        for obj in range(1, max_id + 1):
            m = gt[t] == obj
            op = rng.integers(0, 6)
            if op == 0:
                m = _shift(m, *rng.integers(-4, 5, 2))
            elif op == 1:
                m = cv2.erode(m.astype(np.uint8), kernel, iterations=int(rng.integers(1, 4))).astype(bool)
            elif op == 2:
                m = cv2.dilate(m.astype(np.uint8), kernel, iterations=int(rng.integers(1, 4))).astype(bool)
            elif op == 3 and rng.random() < 0.3:
                m = np.zeros_like(m)
            pred[t][m] = obj
    return pred


def write_pngs(root: Path, sequence: str, labels: np.ndarray, names: list[str] | None = None) -> None:
    (root / sequence).mkdir(parents=True, exist_ok=True)
    for t, frame in enumerate(labels):
        img = Image.fromarray(frame)
        img.putpalette(PALETTE)
        img.save(root / sequence / f"{names[t] if names else f'{t:05d}'}.png")


def official_rows(gt: np.ndarray, pred: np.ndarray) -> list[dict]:
    """The official semi-supervised pipeline on arrays, assembled from the oracle's own functions."""
    gt = np.where(gt == 255, 0, gt).astype(np.float64)
    num_objects = int(gt[0].max())
    gt_obj = np.stack([gt == k for k in range(1, num_objects + 1)])[:, 1:-1]
    scored = pred[1:-1].astype(np.float64)
    pred_obj = np.stack([scored == k for k in range(1, num_objects + 1)])  # official: zero-padded to N objects
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for k in range(num_objects):
            jm, jr, jd = official_utils.db_statistics(official.db_eval_iou(gt_obj[k], pred_obj[k]))
            fm, fr, fd = official_utils.db_statistics(official.db_eval_boundary(gt_obj[k], pred_obj[k]))
            rows.append({"object": k + 1, "J-Mean": jm, "J-Recall": jr, "J-Decay": jd,
                         "F-Mean": fm, "F-Recall": fr, "F-Decay": fd})
    return rows


def vos_benchmark_jf(gt: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    """J and F of one non-empty binary pair from vos_benchmark's Evaluator."""
    ev = Evaluator()
    ev.feed_frame(pred.astype(np.uint8), gt.astype(np.uint8))
    return ev.object_iou[1][0], ev.boundary_f[1][0]


def random_pair(rng: np.random.Generator, kind: int) -> tuple[np.ndarray, np.ndarray]:
    h, w = (int(v) for v in rng.integers(4, 90, 2))
    if kind == 0:  # noise: many boundary pixels
        return rng.random((h, w)) < 0.5, rng.random((h, w)) < 0.3
    if kind == 1:  # smooth blob and a shifted copy
        g = cv2.GaussianBlur(rng.random((h, w)), (0, 0), 3) > 0.5
        return g, _shift(g, *rng.integers(-5, 6, 2))
    if kind == 2:  # one side empty
        g, p = np.zeros((h, w), bool), rng.random((h, w)) < 0.05
        return (g, p) if rng.random() < 0.5 else (p, g)
    if kind == 3:  # full frame against a holey copy
        return np.ones((h, w), bool), rng.random((h, w)) < 0.9
    if kind == 4:  # thin lines touching the border
        g = np.zeros((h, w), bool)
        g[:, int(rng.integers(0, w))] = True
        p = np.zeros((h, w), bool)
        p[int(rng.integers(0, h)), :] = True
        return g, p
    return np.zeros((h, w), bool), np.zeros((h, w), bool)


# ---------------------------------------------------------------------------------------------------------------
# Per-frame measures
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", range(6))
def test_jaccard_and_boundary_f_match_official_on_random_masks(kind):
    rng = np.random.default_rng(kind)
    for _ in range(25):
        g, p = random_pair(rng, kind)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # the oracle divides 0 by 0 before fixing J = 1
            official_j = float(official.db_eval_iou(g, p))
        assert metrics.jaccard(g, p) == pytest.approx(official_j, abs=TOL)
        for bound_th in (0.008, 0.05, 2):
            assert metrics.boundary_f(g, p, bound_th) == pytest.approx(official.f_measure(p, g, bound_th=bound_th),
                                                                       abs=TOL)
        if g.any() or p.any():  # vos_benchmark only scores objects present in gt or prediction
            j, f = vos_benchmark_jf(g, p)
            assert metrics.jaccard(g, p) == pytest.approx(j, abs=TOL)
            assert metrics.boundary_f(g, p) == pytest.approx(f, abs=TOL)


def test_boundary_f_at_davis_resolution_uses_an_8_pixel_disk():
    # 480x854: ceil(0.008 * 979.6) = 8. A square shifted by 8 px still matches fully, by 9 px only partly.
    g = np.zeros((480, 854), bool)
    g[100:300, 200:500] = True
    assert metrics.boundary_f(g, np.roll(g, 8, axis=1)) == pytest.approx(1.0)
    shifted = np.roll(g, 9, axis=1)
    assert metrics.boundary_f(g, shifted) < 1.0
    assert metrics.boundary_f(g, shifted) == pytest.approx(official.f_measure(shifted, g), abs=TOL)


def test_frame_stacks_give_per_frame_values():
    rng = np.random.default_rng(7)
    g = rng.random((5, 30, 40)) < 0.4
    p = rng.random((5, 30, 40)) < 0.4
    p[2] = False
    g[2] = False
    np.testing.assert_allclose(metrics.jaccard(g, p), [metrics.jaccard(a, b) for a, b in zip(g, p)])
    np.testing.assert_allclose(metrics.boundary_f(g, p), official.db_eval_boundary(g, p), atol=TOL)
    assert metrics.jaccard(g, p)[2] == 1.0 and metrics.boundary_f(g, p)[2] == 1.0


def test_measures_reject_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        metrics.jaccard(np.zeros((4, 5)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="same shape"):
        metrics.boundary_f(np.zeros((2, 2, 2, 2)), np.zeros((2, 2, 2, 2)))


# ---------------------------------------------------------------------------------------------------------------
# Statistics over frames
# ---------------------------------------------------------------------------------------------------------------
def test_recall_and_decay_match_official_below_256_frames():
    rng = np.random.default_rng(3)
    for n in [*range(1, 40), 64, 100, 254, 255]:
        values = rng.random(n)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            _, rec, dec = official_utils.db_statistics(values)
        assert metrics.recall(values) == pytest.approx(rec, abs=TOL)
        assert metrics.decay(values) == pytest.approx(dec, abs=TOL)


def test_decay_has_no_uint8_overflow_from_256_frames():
    n = 300
    values = np.arange(n) / (n - 1)
    # Bins from round(linspace(1, 300, 5)) - 1 = [0, 75, 150, 224, 299]: first v[0:76], last v[224:300].
    expected = np.mean(values[0:76]) - np.mean(values[224:300])
    assert metrics.decay(values) == pytest.approx(expected, abs=1e-12)
    assert expected == pytest.approx(-224 / 299)
    # n = 256: edges [0, 64, 128, 191, 255]; the official last edge + 1 wraps to 0 in uint8.
    assert metrics.decay(np.arange(256.0)) == pytest.approx(np.mean(np.arange(65.0)) - np.mean(np.arange(191.0, 256)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for v in (values, np.arange(256.0)):
            assert not np.isfinite(official_utils.db_statistics(v)[2])  # the official uint8 edges wrap


def test_recall_counts_frames_strictly_above_half():
    assert metrics.recall([0.5, 0.51, 0.2, 1.0]) == 0.5
    with pytest.raises(ValueError, match="finite"):
        metrics.recall([])
    with pytest.raises(ValueError, match="finite"):
        metrics.decay([0.1, np.nan])


# ---------------------------------------------------------------------------------------------------------------
# Whole sequences in memory
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed,frames,height,width,objects", [(0, 12, 60, 100, 3), (1, 30, 48, 64, 2),
                                                              (2, 7, 120, 214, 4), (3, 40, 33, 47, 1)])
def test_evaluate_sequence_matches_official_pipeline(seed, frames, height, width, objects):
    rng = np.random.default_rng(seed)
    gt = blob_sequence(rng, frames, height, width, objects)
    pred = perturb(gt, rng, objects)
    ours = metrics.evaluate_sequence(gt, pred, "seq")
    assert list(ours.columns) == list(metrics.OBJECT_COLUMNS)
    assert (ours["sequence"] == "seq").all()
    expected = pd.DataFrame(official_rows(gt, pred))
    assert list(ours["object"]) == list(expected["object"])
    for col in metrics.OBJECT_COLUMNS[2:]:
        np.testing.assert_allclose(ours[col], expected[col], atol=TOL, err_msg=col)
    # Per-frame J and F from the second oracle, on the scored frames.
    for k in range(1, objects + 1):
        for t in range(1, frames - 1):
            g, p = gt[t] == k, pred[t] == k
            if g.any() or p.any():
                j, f = vos_benchmark_jf(g, p)
                assert metrics.jaccard(g, p) == pytest.approx(j, abs=TOL)
                assert metrics.boundary_f(g, p) == pytest.approx(f, abs=TOL)


def test_objects_are_one_to_the_largest_first_frame_id():
    rng = np.random.default_rng(11)
    gt = blob_sequence(rng, 10, 40, 60, 3)
    gt[gt == 2] = 0          # id 2 absent everywhere: still an object (official 1..N)
    gt[5:, :8, :8] = 4       # id 4 appears later: above N, background for scoring
    pred = perturb(np.where(gt == 4, 0, gt), rng, 3)
    df = metrics.evaluate_sequence(gt, pred, "gaps")
    assert list(df["object"]) == [1, 2, 3]
    absent = df.set_index("object").loc[2]
    assert absent["J-Mean"] == 1.0 and absent["F-Mean"] == 1.0  # empty gt and empty prediction
    expected = pd.DataFrame(official_rows(gt, pred))
    for col in metrics.OBJECT_COLUMNS[2:]:
        np.testing.assert_allclose(df[col], expected[col], atol=TOL)


def test_void_is_background_and_unscored_frames_are_ignored():
    rng = np.random.default_rng(12)
    gt = blob_sequence(rng, 9, 40, 60, 2)
    pred = perturb(gt, rng, 2)
    with_void = gt.copy()
    with_void[:, 30:, :] = np.where(gt[:, 30:, :] == 0, 255, gt[:, 30:, :])
    pred_odd_ends = pred.copy()
    pred_odd_ends[0] = 9     # first and last predicted frames are never read
    pred_odd_ends[-1] = 255
    pd.testing.assert_frame_equal(metrics.evaluate_sequence(with_void, pred_odd_ends, "s"),
                                  metrics.evaluate_sequence(gt, pred, "s"))
    expected = pd.DataFrame(official_rows(with_void, pred))
    np.testing.assert_allclose(metrics.evaluate_sequence(with_void, pred, "s")["J-Mean"], expected["J-Mean"],
                               atol=TOL)


def test_long_sequence_decay_is_finite_and_matches_helpers():
    rng = np.random.default_rng(13)
    gt = blob_sequence(rng, 302, 16, 24, 1)
    pred = perturb(gt, rng, 1)
    row = metrics.evaluate_sequence(gt, pred, "long").iloc[0]
    g, p = gt[1:-1] == 1, pred[1:-1] == 1
    assert row["J-Decay"] == pytest.approx(metrics.decay(metrics.jaccard(g, p)))
    assert row["F-Decay"] == pytest.approx(metrics.decay(metrics.boundary_f(g, p)))
    assert np.isfinite(row[list(metrics.OBJECT_COLUMNS[2:])].astype(float)).all()


def test_evaluate_sequence_errors_name_the_problem():
    gt = np.zeros((5, 8, 8), np.uint8)
    gt[:, 2:5, 2:5] = 1
    with pytest.raises(ValueError, match="'s'.*both be"):
        metrics.evaluate_sequence(gt, gt[:4], "s")
    with pytest.raises(ValueError, match="at least 3"):
        metrics.evaluate_sequence(gt[:2], gt[:2], "s")
    with pytest.raises(ValueError, match="integer"):
        metrics.evaluate_sequence(gt, gt.astype(float), "s")
    bad = gt.copy()
    bad[2, 0, 0] = 2
    with pytest.raises(DataError, match="frame 2: object id 2.*1..1"):
        metrics.evaluate_sequence(gt, bad, "s")


# ---------------------------------------------------------------------------------------------------------------
# Data sets on disk
# ---------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> tuple[Path, Path, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """A DAVIS layout (Annotations/, JPEGImages/, ImageSets/val.txt) with three sequences and predictions."""
    root = tmp_path_factory.mktemp("davis")
    rng = np.random.default_rng(21)
    arrays = {}
    for name, frames, objects in (("bear", 9, 2), ("camel", 14, 1), ("dogs", 6, 3)):
        gt = blob_sequence(rng, frames, 54, 96, objects)
        pred = perturb(gt, rng, objects)
        write_pngs(root / "Annotations", name, gt)
        write_pngs(root / "pred", name, pred)
        (root / "JPEGImages" / name).mkdir(parents=True)
        for t in range(frames):
            (root / "JPEGImages" / name / f"{t:05d}.jpg").touch()
        arrays[name] = (gt, pred)
    (root / "ImageSets").mkdir()
    (root / "ImageSets" / "val.txt").write_text("\n".join(arrays) + "\n")
    return root / "Annotations", root / "pred", arrays


def test_evaluate_on_disk_matches_official_file_pipeline_and_in_memory(dataset):
    gt_dir, pred_dir, arrays = dataset
    df = metrics.evaluate(gt_dir, pred_dir, workers=1)
    assert list(df["sequence"].unique()) == sorted(arrays)
    in_memory = pd.concat([metrics.evaluate_sequence(gt, pred, name) for name, (gt, pred) in sorted(arrays.items())],
                          ignore_index=True)
    pd.testing.assert_frame_equal(df, in_memory)
    for name in arrays:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            res = official_evaluate_sequence(name, gt_dir.parent, "val", pred_dir)
        rows = df[df["sequence"] == name]
        for ours_col, key, stat in (("J-Mean", "J", "M"), ("J-Recall", "J", "R"), ("J-Decay", "J", "D"),
                                    ("F-Mean", "F", "M"), ("F-Recall", "F", "R"), ("F-Decay", "F", "D")):
            np.testing.assert_allclose(rows[ours_col], res[key][stat], atol=TOL, err_msg=f"{name} {ours_col}")


def test_results_do_not_depend_on_worker_count(dataset):
    gt_dir, pred_dir, _ = dataset
    pd.testing.assert_frame_equal(metrics.evaluate(gt_dir, pred_dir, workers=1),
                                  metrics.evaluate(gt_dir, pred_dir, workers=2))


def test_sequence_subset_keeps_the_requested_order(dataset):
    gt_dir, pred_dir, _ = dataset
    df = metrics.evaluate(gt_dir, pred_dir, sequences=["dogs", "bear"], workers=1)
    assert list(df["sequence"].unique()) == ["dogs", "bear"]
    assert list(metrics.evaluate(gt_dir, pred_dir, sequences="camel", workers=1)["sequence"].unique()) == ["camel"]


def _copy_dataset(dataset, tmp_path: Path) -> tuple[Path, Path, dict]:
    _, _, arrays = dataset
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    for name, (gt, pred) in arrays.items():
        write_pngs(gt_dir, name, gt)
        write_pngs(pred_dir, name, pred)
    return gt_dir, pred_dir, arrays


def test_unscored_prediction_frames_may_be_missing(dataset, tmp_path):
    gt_dir, pred_dir, arrays = _copy_dataset(dataset, tmp_path)
    (pred_dir / "bear" / "00000.png").unlink()
    (pred_dir / "bear" / "00008.png").unlink()
    df = metrics.evaluate(gt_dir, pred_dir, sequences=["bear"], workers=1)
    pd.testing.assert_frame_equal(df, metrics.evaluate_sequence(*arrays["bear"], "bear"))


def test_file_errors_name_the_file(dataset, tmp_path):
    gt_dir, pred_dir, arrays = _copy_dataset(dataset, tmp_path)
    (pred_dir / "bear" / "00003.png").unlink()
    with pytest.raises(DataError, match="00003.png: mask not found"):
        metrics.evaluate(gt_dir, pred_dir, sequences=["bear"], workers=1)
    write_pngs(pred_dir, "bear", arrays["bear"][1])

    (pred_dir / "camel" / "00004.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="00004.png: unreadable PNG"):
        metrics.evaluate(gt_dir, pred_dir, sequences=["camel"], workers=1)

    Image.fromarray(np.zeros((54, 96, 3), np.uint8)).save(pred_dir / "dogs" / "00002.png")
    with pytest.raises(DataError, match="00002.png: PNG mode 'RGB'"):
        metrics.evaluate(gt_dir, pred_dir, sequences=["dogs"], workers=1)

    write_pngs(pred_dir, "dogs", np.zeros((1, 50, 96), np.uint8), names=["00002"])
    with pytest.raises(DataError, match="00002.png: size 96x50 differs.*96x54"):
        metrics.evaluate(gt_dir, pred_dir, sequences=["dogs"], workers=1)

    write_pngs(pred_dir, "dogs", np.full((1, 54, 96), 7, np.uint8), names=["00002"])
    with pytest.raises(DataError, match="00002.png: object id 7 .*1..3"):
        metrics.evaluate(gt_dir, pred_dir, sequences=["bear", "dogs"], workers=2)  # raised in a worker

    (gt_dir / "nope").mkdir()
    with pytest.raises(DataError, match="prediction of sequence 'nope' not found"):
        metrics.evaluate(gt_dir, pred_dir, sequences=["nope"], workers=1)
    (pred_dir / "nope").mkdir()
    write_pngs(gt_dir, "nope", np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(DataError, match="2 ground-truth PNGs.*at least 3"):
        metrics.evaluate(gt_dir, pred_dir, sequences=["nope"], workers=1)
    with pytest.raises(DataError, match="ground-truth folder not found"):
        metrics.evaluate(tmp_path / "absent", pred_dir)
    with pytest.raises(ValueError, match="workers"):
        metrics.evaluate(gt_dir, pred_dir, workers=0)


def test_cli_prints_the_table_and_writes_the_csv(dataset, tmp_path, capsys):
    gt_dir, pred_dir, _ = dataset
    out = tmp_path / "scores" / "per_object.csv"
    assert cli.main(["eval", "--gt", str(gt_dir), "--pred", str(pred_dir), "--csv", str(out), "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    for column in metrics.STANDARD_COLUMNS:
        assert column in printed
    df = metrics.evaluate(gt_dir, pred_dir, workers=1)
    assert f"{metrics.summarize(df)['J&F-Mean']:.3f}" in printed
    pd.testing.assert_frame_equal(pd.read_csv(out), df)
    assert [p.name for p in out.parent.iterdir()] == ["per_object.csv"]  # no temporary file left behind


def test_cli_reports_bad_input_without_traceback(dataset, tmp_path, capsys):
    gt_dir, _, _ = dataset
    out = tmp_path / "never.csv"
    assert cli.main(["eval", "--gt", str(gt_dir), "--pred", str(tmp_path / "missing"), "--csv", str(out)]) == 2
    assert "prediction folder not found" in capsys.readouterr().err
    assert not out.exists()
