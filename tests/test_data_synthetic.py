"""The synthetic generator: determinism, forced events measured on the masks, the default splits, building on disk."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import socket

import numpy as np
import pytest

import vosnb.data.synthetic as synthetic
from vosnb.cli import main
from vosnb.data import DavisDataset, SequenceConfig, SynthConfig, build_synthetic, make_sequence
from vosnb.data import textures
from vosnb.data.scene import _new_layer
from vosnb.errors import DataError

SMALL = SynthConfig(seed=1, height=64, width=112, val_sequences=3, val_length=24, train_sequences=2, train_length=24)
TINY = SynthConfig(
    seed=1, height=48, width=80, val_sequences=2, val_length=8, train_sequences=1, train_length=8, knob_rate=0
)


def _visible(masks: np.ndarray, k: int) -> np.ndarray:
    return (masks == k).any(axis=(1, 2))


def test_same_seed_same_arrays_other_seed_other_arrays():
    config = SequenceConfig(length=12, n_objects=2, n_distractors=1, drift="texture")
    f1, m1, e1 = make_sequence(config, 11)
    f2, m2, e2 = make_sequence(config, 11)
    f3, _, _ = make_sequence(config, 12)
    assert np.array_equal(f1, f2) and np.array_equal(m1, m2) and e1 == e2
    assert not np.array_equal(f1, f3)
    assert f1.shape == (12, 128, 224, 3) and f1.dtype == np.uint8
    assert m1.shape == (12, 128, 224) and m1.dtype == np.uint8 and set(np.unique(m1)) <= {0, 1, 2}
    json.dumps(e1)  # events are JSON-ready


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("hide", [(1, 5, 1), (2, 10, 8)])
def test_hide_object_hides_exactly_the_requested_frames(seed, hide):
    obj, start, length = hide
    frames, masks, events = make_sequence(SequenceConfig(length=30, n_objects=2, hide_object=hide), seed)
    visible = _visible(masks, obj)
    assert np.nonzero(~visible)[0].tolist() == list(range(start, start + length))
    assert events["objects"][str(obj)]["full_occlusion_frames"] == list(range(start, start + length))
    assert events["knobs"]["full_occlusion"] and events["occluder"]


def test_hide_object_must_reappear_and_be_a_frame0_target():
    with pytest.raises(ValueError, match="hide_object"):
        SequenceConfig(length=10, hide_object=(1, 5, 5))
    with pytest.raises(ValueError, match="hide_object"):
        SequenceConfig(n_objects=2, n_mid_video=1, hide_object=(2, 5, 3))
    with pytest.raises(ValueError, match="drift"):
        SequenceConfig(drift="fog")


def test_distractor_is_background_with_its_twins_texture():
    config = SequenceConfig(length=10, n_objects=2, n_distractors=2, distractor_of=2)
    _, masks, events = make_sequence(config, 4)
    assert set(np.unique(masks)) <= {0, 1, 2}
    assert events["distractors"] == [{"twin_of": 2, "texture": events["objects"]["2"]["texture"]}] * 2
    rng = np.random.default_rng(0)
    target = _new_layer(rng, config, 2, "coffee", 20.0)
    twin = _new_layer(rng, config, 0, "coffee", 21.0, twin=target)
    size = twin.texture.shape[0]
    assert twin.twin_of == 2 and np.allclose(twin.texture, textures.cv2.resize(target.texture, (size, size)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mid_video_object_first_appears_mid_video(seed):
    config = SequenceConfig(length=24, n_objects=2, n_mid_video=1)
    _, masks, events = make_sequence(config, seed)
    first = events["objects"]["2"]["first_frame"]
    assert 24 // 4 <= first <= 24 // 2 and events["knobs"]["mid_video"] == [2]
    visible = _visible(masks, 2)
    assert not visible[:first].any() and visible[first]
    assert events["objects"]["1"]["first_frame"] == 0 and _visible(masks, 1)[0]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_crossing_and_exit_reenter_happen_when_asked(seed):
    _, masks, events = make_sequence(SequenceConfig(n_objects=3, crossing=True, exit_reenter=True), seed)
    assert events["knobs"]["crossing"] and events["knobs"]["exit_reenter"]
    leaver = next(k for k, o in events["objects"].items() if o["exit_reenter"])
    gone = events["objects"][leaver]["out_of_frame_frames"]
    assert not _visible(masks, int(leaver))[gone].any() and _visible(masks, int(leaver))[gone[-1] + 1 :].any()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_drift_scale_rotation_deform_are_measurable(seed):
    def colour_change(config):
        frames, masks, _ = make_sequence(config, seed)
        changes = []
        for k in range(1, config.n_objects + 1):
            shown = [t for t in range(config.length) if (masks[t] == k).sum() > 50]
            a, b = shown[0], shown[-1]
            changes.append(np.abs(frames[a][masks[a] == k].mean(0) - frames[b][masks[b] == k].mean(0)).mean())
        return max(changes)

    assert colour_change(SequenceConfig()) < 5
    assert colour_change(SequenceConfig(drift="illumination")) > 10
    assert colour_change(SequenceConfig(drift="texture")) > 10
    _, _, events = make_sequence(SequenceConfig(scale=True, rotation=True, deform=True), seed)
    assert all(events["knobs"][k] for k in ("scale", "rotation", "deform"))
    _, _, plain = make_sequence(SequenceConfig(), seed)
    assert not any(plain["knobs"][k] for k in ("scale", "rotation", "deform", "drift", "mid_video", "distractor"))


def test_objects_move_several_sizes_so_copying_the_first_mask_fails():
    ious, paths = [], []
    for seed in range(6):
        _, masks, events = make_sequence(SequenceConfig(n_objects=2), seed)
        paths += [o["path_length_sizes"] for o in events["objects"].values()]
        for k in (1, 2):
            first = masks[0] == k
            for t in range(1, len(masks)):
                now = masks[t] == k
                ious.append((first & now).sum() / max((first | now).sum(), 1))
    assert np.mean(paths) >= 3.0
    assert np.mean(ious) < 0.3


def test_default_splits_make_every_knob_visible_in_val():
    config = SynthConfig()
    val, train = synthetic.split_plan(config, "val"), synthetic.split_plan(config, "train")
    assert len(val) == 30 and {s.length for _, s, _ in val} == {40}
    assert len(train) == 60 and {s.length for _, s, _ in train} == {32}
    assert {(s.height, s.width) for _, s, _ in val + train} == {(128, 224)}
    assert not {seed for *_, seed in val} & {seed for *_, seed in train}
    assert synthetic.split_plan(config, "val") == val
    fired = {knob: 0 for knob in synthetic.KNOBS}
    for _, sequence, seed in val:
        _, _, events = make_sequence(sequence, seed)
        for knob in synthetic.KNOBS:
            fired[knob] += bool(events["knobs"][knob])
    assert all(count >= 1 for count in fired.values()), fired


def _tree_digest(root) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def test_build_writes_the_davis_layout_and_is_deterministic(tmp_path):
    root = build_synthetic(tmp_path / "a", SMALL, progress=False)
    again = build_synthetic(tmp_path / "b", SMALL, progress=False)
    assert _tree_digest(root) == _tree_digest(again)
    manifest = json.loads((root / "synthetic.json").read_text())
    assert manifest["version"] == synthetic.GENERATOR_VERSION and manifest["config"]["seed"] == 1
    dataset = DavisDataset(root, "val")
    assert dataset.sequences == list(manifest["splits"]["val"]["sequences"])
    name = dataset.sequences[0]
    events = manifest["splits"]["val"]["sequences"][name]
    frames, masks, _ = make_sequence(SequenceConfig(**events["config"]), events["seed"])  # regenerates in memory
    video = dataset[name]
    assert np.array_equal(video.mask(5), masks[5] * np.isin(masks[5], video.object_ids))
    assert np.abs(video.frame(5).astype(int) - frames[5]).mean() < 4  # JPEG
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]  # no temporary folders left


def test_build_is_idempotent_and_rebuilds_on_a_new_config(tmp_path):
    root = build_synthetic(tmp_path / "set", TINY, progress=False)
    stamp = (root / "synthetic.json").stat().st_mtime_ns
    build_synthetic(root, TINY, progress=False)
    assert (root / "synthetic.json").stat().st_mtime_ns == stamp
    (root / "JPEGImages/480p/val-000/00003.jpg").unlink()  # incomplete: rebuilt
    build_synthetic(root, TINY, progress=False)
    assert (root / "JPEGImages/480p/val-000/00003.jpg").exists()
    other = dataclasses.replace(TINY, seed=2)
    build_synthetic(root, other, progress=False)
    assert json.loads((root / "synthetic.json").read_text())["config"]["seed"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["set"]


def test_failed_build_leaves_the_old_set_untouched(tmp_path, monkeypatch):
    root = build_synthetic(tmp_path / "set", TINY, progress=False)
    before = _tree_digest(root)
    calls = []

    def failing(config, seed):
        calls.append(seed)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return make_sequence(config, seed)

    monkeypatch.setattr(synthetic, "make_sequence", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        build_synthetic(root, dataclasses.replace(TINY, seed=5), progress=False)
    assert _tree_digest(root) == before and [p.name for p in tmp_path.iterdir()] == ["set"]


def test_refuses_a_folder_that_is_not_a_synthetic_set(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match="not a vosnb synthetic set"):
        build_synthetic(tmp_path / "mine", TINY, progress=False)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_cli_builds_then_reports_up_to_date(tmp_path, capsys):
    args = ["data", "synth", "--out", str(tmp_path / "s"), "--seed", "3", "--val-sequences", "2", "--val-length", "10",
            "--train-sequences", "1", "--train-length", "10", "--height", "48", "--width", "80", "--knob-rate", "0",
            "--no-progress"]
    assert main(args) == 0
    assert "built in" in capsys.readouterr().out
    assert main(args) == 0
    assert "already up to date" in capsys.readouterr().out
    assert DavisDataset(tmp_path / "s", "train").sequences == ["train-000"]


def test_textures_come_from_the_wheel_without_network(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("a texture tried to use the network")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    textures.load_source.cache_clear()
    for name, rgb in textures.TEXTURE_SOURCES.items():
        image = textures.load_source(name)
        assert min(image.shape[:2]) == 256 and (image.ndim == 3) == rgb
    sample = textures.sample_texture(np.random.default_rng(0), "brick", 20, 30)
    assert sample.shape == (20, 30, 3) and 0.0 <= sample.min() and sample.max() <= 1.0
