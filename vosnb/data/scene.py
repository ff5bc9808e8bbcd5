"""One synthetic VOS sequence, rendered in memory: `make_sequence(config, seed) -> (frames, masks, events)`.

A scene is a textured background seen by a slowly panning camera, with textured objects drawn over it in a fixed
depth order. Each object is a star-shaped blob, r(phi) = r0 * s(t) * (1 + sum_k a_k(t) cos(k phi + psi_k)), k = 2..5,
rotated by theta(t) and moving smoothly (constant speed plus small correlated accelerations, bouncing off the frame
walls), so it travels several times its own size over a sequence: copying the first mask to every frame scores
poorly. Textures are natural images bundled in scikit-image (`vosnb.data.textures`).

`SequenceConfig` switches on the events the papers' claims need:
- targets ``1..n_objects``; the last ``n_mid_video`` of them first appear mid-video (entering at a frame border);
- ``n_distractors``: unlabelled objects with exactly the texture of a target (SWEM-4);
- ``crossing``: two objects' paths cross, one occluding the other; ``exit_reenter``: a target leaves the frame and
  comes back;
- ``hide_object=(id, start, length)``: a full-height occluder passes in front of target ``id`` so that it is fully
  hidden for exactly frames ``start .. start+length-1`` and partly visible just before and after (AMM-5);
- ``drift``: the targets' appearance changes over time, "illumination" (gain and tint) or "texture" (blend into a
  second texture); ``scale``, ``rotation``, ``deform``: strong zoom (max/min >= 1.6), spin (3.5-6 degrees per
  frame, >= 90 degrees over 27+ frames) and shape change instead of the mild default ones.

The events are measured on the rendered masks and returned (frames fully hidden, out of frame, occluded by other
objects; first appearance; path length in object sizes). Everything is drawn from one `numpy.random.Generator`,
so a (config, seed) pair always gives the same arrays.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from vosnb.data.textures import TEXTURE_SOURCES, sample_texture
from vosnb.errors import VosnbError

DRIFT_KINDS = ("illumination", "texture")
_HARMONICS = np.arange(2, 6)
_ANGLES = np.linspace(0.0, 2 * np.pi, 256, endpoint=False)
_ACCEL_DECAY = 0.7
_MAX_ATTEMPTS = 500
_BORDER = cv2.BORDER_REFLECT_101


@dataclass(frozen=True)
class SequenceConfig:
    """What one synthetic sequence contains (see the module docstring). Speeds are in frame heights per frame."""

    length: int = 40
    height: int = 128
    width: int = 224
    n_objects: int = 2
    n_mid_video: int = 0
    n_distractors: int = 0
    distractor_of: int | None = None
    crossing: bool = False
    exit_reenter: bool = False
    hide_object: tuple[int, int, int] | None = None
    drift: str | None = None
    scale: bool = False
    rotation: bool = False
    deform: bool = False
    speed: float = 0.04
    camera_pan: float = 0.006

    def __post_init__(self) -> None:
        if self.hide_object is not None:
            object.__setattr__(self, "hide_object", tuple(int(v) for v in self.hide_object))
        n_first = self.n_objects - self.n_mid_video
        checks = [
            (self.length >= 2, "length must be at least 2"),
            (self.height >= 32 and self.width >= 32, "height and width must be at least 32 pixels"),
            (self.n_objects >= 1, "n_objects must be at least 1"),
            (0 <= self.n_mid_video and n_first >= 1, "n_mid_video must leave at least one object in frame 0"),
            (self.n_distractors >= 0, "n_distractors must be >= 0"),
            (self.drift in (None, *DRIFT_KINDS), f"drift must be None or one of {DRIFT_KINDS}"),
            (self.speed > 0 and self.camera_pan >= 0, "speed must be > 0 and camera_pan >= 0"),
            (self.distractor_of is None or 1 <= self.distractor_of <= self.n_objects, "distractor_of: not a target"),
            (self.n_mid_video == 0 or self.length >= 8, "mid-video objects need length >= 8"),
        ]
        if self.hide_object is not None:
            obj, start, length = self.hide_object
            checks += [
                (1 <= obj <= n_first, "hide_object id must be a target of frame 0 (1..n_objects-n_mid_video)"),
                (start >= 1 and length >= 1 and start + length <= self.length - 1,
                 "hide_object (id, start, length) needs start >= 1 and start + length < length (it reappears)"),
            ]
        hidden, leaving = int(self.hide_object is not None), int(self.exit_reenter)
        if self.exit_reenter:
            checks.append((n_first - hidden >= 1, "exit_reenter needs a frame-0 target other than hide_object's"))
        if self.crossing:
            checks.append((
                n_first - hidden - leaving >= 1 and n_first + self.n_distractors - leaving >= 2,
                "crossing needs, in frame 0, a target that is neither hidden nor leaving, and a second object",
            ))
        for ok, message in checks:
            if not ok:
                raise ValueError(f"SequenceConfig: {message} (got {self})")


@dataclass
class _Layer:
    """One object: its appearance, its per-frame pose, and the frame it is first drawn in."""

    label: int
    texture_name: str
    texture: np.ndarray
    r0: float
    a0: np.ndarray
    psi: np.ndarray
    deform: float
    omega: np.ndarray
    phase: np.ndarray
    scale: np.ndarray
    angle: np.ndarray
    start: int = 0
    speed: float = 0.0
    centre: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    drift: dict | None = None
    texture_b: np.ndarray | None = None
    twin_of: int | None = None
    margin: float = 0.5
    profiles: np.ndarray = field(init=False)  # [T, len(_ANGLES)] outline radius in pixels
    bounds: np.ndarray = field(init=False)  # [T] largest radius
    areas: np.ndarray = field(init=False)  # [T] area in pixels

    def __post_init__(self) -> None:
        """Tabulate the outline r(phi) per frame (pixels, scale included) and what is derived from it."""
        t = np.arange(len(self.scale))[:, None]
        coeffs = self.a0 + self.deform / (_HARMONICS - 1) * np.sin(self.omega * t + self.phase)
        waves = np.cos(np.outer(_HARMONICS, _ANGLES) + self.psi[:, None])
        self.profiles = (self.r0 * self.scale[:, None] * (1.0 + coeffs @ waves)).astype(np.float32)
        self.bounds = self.profiles.max(axis=1)
        self.areas = np.pi * np.mean(self.profiles.astype(np.float64) ** 2, axis=1)

    def walls(self, config: SequenceConfig) -> tuple[float, float, float, float]:
        """(xmin, xmax, ymin, ymax) for the centre: ``margin`` 1 keeps the object inside, 0.5 lets a quarter out."""
        r = float(self.bounds.max()) * self.margin
        return (r, config.width - r, r, config.height - r)

    def texture_at(self, t: int, length: int) -> np.ndarray:
        """The texture at frame t: drifting linearly from the first texture, by ``strength`` at the last frame."""
        if self.drift is None:
            return self.texture
        progress = self.drift["strength"] * t / max(length - 1, 1)
        if self.drift["kind"] == "texture":
            return (1.0 - progress) * self.texture + progress * self.texture_b
        gain = 1.0 + self.drift["direction"] * 0.6 * progress
        tint = np.asarray(self.drift["tint"], dtype=np.float32) * 0.3 * progress
        return np.clip(self.texture * gain + tint, 0.0, 1.0)


def _new_layer(
    rng: np.random.Generator,
    config: SequenceConfig,
    label: int,
    texture_name: str,
    r0: float,
    twin: _Layer | None = None,
) -> _Layer:
    """An object with random shape, zoom, spin and deformation; a ``twin`` lends it its exact texture."""
    length = config.length
    t = np.arange(length)
    amp = rng.uniform(0.25, 0.4) if config.scale else rng.uniform(0.0, 0.06)
    period = rng.uniform(0.4, 0.9) * length
    scale = np.exp(amp * np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi)))
    spin = np.deg2rad(rng.uniform(3.5, 6.0) if config.rotation else rng.uniform(0.0, 1.0)) * rng.choice([-1, 1])
    angle = rng.uniform(0, 2 * np.pi) + spin * t
    layer = _Layer(
        label=label,
        texture_name=texture_name,
        texture=np.zeros((1, 1, 3), np.float32),
        r0=r0,
        a0=rng.uniform(0.0, 0.18, len(_HARMONICS)) / (_HARMONICS - 1),
        psi=rng.uniform(0, 2 * np.pi, len(_HARMONICS)),
        deform=rng.uniform(0.12, 0.18) if config.deform else 0.02,
        omega=rng.uniform(0.1, 0.3, len(_HARMONICS)),
        phase=rng.uniform(0, 2 * np.pi, len(_HARMONICS)),
        scale=scale,
        angle=angle,
        speed=config.speed * config.height * rng.uniform(0.75, 1.25),
    )
    size = int(math.ceil(2 * layer.bounds.max())) + 4
    if twin is not None:
        layer.texture = cv2.resize(twin.texture, (size, size), interpolation=cv2.INTER_LINEAR)
        layer.twin_of = twin.label
    else:
        texture = sample_texture(rng, texture_name, size, size, zoom=rng.uniform(0.8, 1.6))
        mean = texture.mean(axis=(0, 1))
        layer.texture = np.clip((texture - mean) * rng.uniform(1.1, 1.4) + mean, 0.0, 1.0)
    return layer


def _simulate(
    rng: np.random.Generator,
    layer: _Layer,
    length: int,
    position: np.ndarray,
    velocity: np.ndarray,
    walls: tuple[float, float, float, float],
    quiet_until: int = 0,
) -> np.ndarray:
    """Centres [length, 2] (NaN before ``layer.start``): constant speed plus correlated acceleration, bouncing off
    ``walls`` = (xmin, xmax, ymin, ymax) by turning back a velocity that points further out (never teleporting)."""
    centre = np.full((length, 2), np.nan)
    p, v, a = position.astype(float), velocity.astype(float), np.zeros(2)
    lo, hi = np.array([walls[0], walls[2]]), np.array([walls[1], walls[3]])
    for t in range(layer.start, length):
        centre[t] = p
        noise = rng.normal(0.0, 0.04 * layer.speed, 2)
        a = _ACCEL_DECAY * a + (noise if t >= quiet_until else 0.0)
        v = v + a
        speed = np.hypot(*v)
        v *= np.clip(speed, 0.6 * layer.speed, 1.4 * layer.speed) / max(speed, 1e-9)
        p = p + v
        out_low, out_high = (p < lo) & (v < 0), (p > hi) & (v > 0)
        v[out_low | out_high] *= -1
        a[out_low] = np.abs(a[out_low])
        a[out_high] = -np.abs(a[out_high])
    return centre


def _backward_room(point: np.ndarray, direction: np.ndarray, walls: tuple[float, float, float, float]) -> float:
    """How far one can go from ``point`` against ``direction`` before leaving ``walls``."""
    room = np.inf
    for axis, (lo, hi) in enumerate([(walls[0], walls[1]), (walls[2], walls[3])]):
        if direction[axis] > 1e-9:
            room = min(room, (point[axis] - lo) / direction[axis])
        elif direction[axis] < -1e-9:
            room = min(room, (hi - point[axis]) / -direction[axis])
    return room


def _heading(rng: np.random.Generator, angle: float, spread: float) -> np.ndarray:
    """A unit vector at ``angle`` ± ``spread`` radians."""
    angle = angle + rng.uniform(-spread, spread)
    return np.array([np.cos(angle), np.sin(angle)])


def _start_state(rng: np.random.Generator, config: SequenceConfig, layer: _Layer, exits: bool):
    """Initial centre, velocity and walls: anywhere inside; at a border heading in (mid-video objects); or near a
    side border heading out, with walls beyond the frame so that it leaves and comes back (``exits``)."""
    width, height = config.width, config.height
    walls = layer.walls(config)
    position = np.array([rng.uniform(walls[0], walls[1]), rng.uniform(walls[2], walls[3])])
    direction = _heading(rng, 0.0, np.pi)
    if exits:
        r = float(layer.bounds.max())
        overshoot = r + rng.uniform(1.5, 4.0) * layer.speed
        walls = (-overshoot, width + overshoot, walls[2], walls[3])
        side = int(rng.choice([-1, 1]))
        gap = rng.uniform(0.9 * r, 0.9 * r + 0.15 * width)
        position[0] = gap if side < 0 else width - gap
        direction = _heading(rng, 0.0 if side > 0 else np.pi, 0.6)
    elif layer.start > 0:
        side = int(rng.integers(4))
        position = [
            np.array([0.0, position[1]]),
            np.array([width, position[1]]),
            np.array([position[0], 0.0]),
            np.array([position[0], height]),
        ][side]
        direction = _heading(rng, [0.0, np.pi, np.pi / 2, -np.pi / 2][side], 0.7)
    return position, direction * layer.speed, walls


def _plan_motion(
    rng: np.random.Generator,
    config: SequenceConfig,
    layers: list[_Layer],
    exit_layer: _Layer | None,
    crossing: list[_Layer] | None,
) -> None:
    """Draw trajectories until the requested events happen (geometrically) and no two objects start overlapped.

    A crossing pair is aimed at a common point, reached at the same frame on straight paths (their accelerations
    start after the meeting)."""
    length = config.length
    for _ in range(_MAX_ATTEMPTS):
        for layer in layers:
            if crossing is None or layer not in crossing:
                position, velocity, walls = _start_state(rng, config, layer, layer is exit_layer)
                layer.centre = _simulate(rng, layer, length, position, velocity, walls)
        if crossing is not None:
            meet = np.array([rng.uniform(0.3, 0.7) * config.width, rng.uniform(0.3, 0.7) * config.height])
            first = _heading(rng, 0.0, np.pi)
            second = _heading(rng, np.arctan2(-first[1], -first[0]), 0.5)
            pair = list(zip(crossing, (first, second)))
            room = min(_backward_room(meet, d, layer.walls(config)) / layer.speed for layer, d in pair)
            t_meet = int(min(room, length - 3) * rng.uniform(0.6, 1.0))
            if t_meet < 3:
                continue
            for layer, d in pair:
                velocity = d * layer.speed
                start = meet - velocity * t_meet
                layer.centre = _simulate(rng, layer, length, start, velocity, layer.walls(config), quiet_until=t_meet)
        if _motion_ok(config, layers, exit_layer, crossing):
            return
    raise VosnbError(
        f"make_sequence: found no motion that realises the requested events of {config} in {_MAX_ATTEMPTS} attempts; "
        "use longer or larger sequences, or fewer knobs (crossing, exit_reenter, objects)"
    )


def _motion_ok(
    config: SequenceConfig, layers: list[_Layer], exit_layer: _Layer | None, crossing: list[_Layer] | None
) -> bool:
    """Objects start apart; the crossing pair overlaps by half (outside the occluder's window); the leaving object
    is fully out of the frame at some point and back inside later."""
    for i, a in enumerate(layers):
        for b in layers[i + 1 :]:
            t = max(a.start, b.start)
            if np.hypot(*(a.centre[t] - b.centre[t])) < 0.8 * (a.bounds[t] + b.bounds[t]):
                return False
    if crossing is not None:
        a, b = crossing
        gap = np.hypot(*(a.centre - b.centre).T)
        reach = 0.45 * (a.r0 * a.scale + b.r0 * b.scale)
        seen = np.arange(config.length) >= 1
        if config.hide_object is not None:
            _, start, length = config.hide_object
            seen[max(start - 1, 0) : start + length + 1] = False  # the occluder would hide the crossing
        if not (gap < reach)[seen].any():
            return False
    if exit_layer is not None:
        x = exit_layer.centre[:, 0]
        bound = exit_layer.bounds
        out = (x < -bound) | (x > config.width + bound)
        if not out.any() or not ((x >= 0) & (x <= config.width))[np.argmax(out) :].any():
            return False
    return True


def _shape_alpha(layer: _Layer, t: int, height: int, width: int) -> tuple[tuple[int, int, int, int], np.ndarray] | None:
    """Anti-aliased coverage of the object at frame t within its on-screen box (y0, y1, x0, x1), or None."""
    cx, cy = float(layer.centre[t, 0]), float(layer.centre[t, 1])
    r = float(layer.bounds[t]) + 1.0
    x0, x1 = max(0, int(np.floor(cx - r))), min(width, int(np.ceil(cx + r)) + 1)
    y0, y1 = max(0, int(np.floor(cy - r))), min(height, int(np.ceil(cy + r)) + 1)
    if x0 >= x1 or y0 >= y1:
        return None
    dx = np.arange(x0, x1, dtype=np.float32)[None, :] - cx
    dy = np.arange(y0, y1, dtype=np.float32)[:, None] - cy
    phi = np.arctan2(dy, dx) - float(layer.angle[t])
    index = (phi * (len(_ANGLES) / (2 * np.pi)) + 0.5).astype(np.int32) & (len(_ANGLES) - 1)
    alpha = np.clip(layer.profiles[t][index] - np.hypot(dx, dy) + 0.5, 0.0, 1.0)
    return (y0, y1, x0, x1), alpha


def _warp_texture(layer: _Layer, t: int, texture: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The object's texture at frame t, rotated, scaled and placed into ``box`` (same pose as `_shape_alpha`)."""
    y0, y1, x0, x1 = box
    cx, cy = layer.centre[t]
    s, cos, sin = layer.scale[t], np.cos(layer.angle[t]), np.sin(layer.angle[t])
    half = texture.shape[0] / 2
    matrix = np.array([
        [s * cos, -s * sin, cx - s * (cos - sin) * half - x0],
        [s * sin, s * cos, cy - s * (sin + cos) * half - y0],
    ])
    return cv2.warpAffine(texture, matrix, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=_BORDER)


def _occluder_columns(
    spans: list[tuple[int, int] | None], start: int, length: int, side: int, width: int
) -> tuple[list[tuple[int, int] | None], int]:
    """Columns [lo, hi) of the full-height occluder per frame, from the hidden object's columns [x0, x1) per frame.

    In frames ``start .. start+length-1`` it covers the object's columns plus a margin, so the object is fully
    hidden. It arrives from ``side`` (+1: right) and leaves on the other side: one frame before and after the window
    its edge sits at the object's middle column (the object is partly visible), and one ``step`` further away for
    each frame beyond.
    """
    margin = 3
    widest = max(spans[t][1] - spans[t][0] for t in range(start, start + length))
    cover = widest + 2 * margin
    step = max(4, cover // 3)
    columns: list[tuple[int, int] | None] = []
    for t, span in enumerate(spans):
        if span is None:
            columns.append(None)
            continue
        x0, x1 = span
        if start <= t < start + length:
            lo = x0 - margin - (widest - (x1 - x0)) // 2
            hi = lo + cover
        else:
            distance = (start - 1 - t) * step if t < start else (t - start - length) * step
            if (side if t < start else -side) > 0:
                lo = (x0 + x1 - 1) // 2 + 1 + distance
                hi = lo + cover
            else:
                hi = (x0 + x1) // 2 - distance
                lo = hi - cover
        columns.append((lo, hi) if hi > 0 and lo < width else None)
    return columns, cover


def _make_targets(rng: np.random.Generator, config: SequenceConfig, texture_names: list[str]) -> list[_Layer]:
    """Targets 1..n_objects (the last n_mid_video start mid-video), with their appearance drift."""
    n_first = config.n_objects - config.n_mid_video
    targets = []
    for k in range(1, config.n_objects + 1):
        name = texture_names[(k - 1) % len(texture_names)]
        layer = _new_layer(rng, config, k, name, config.height * rng.uniform(0.12, 0.19))
        if k > n_first:
            layer.start = int(rng.integers(config.length // 4, config.length // 2 + 1))
        if config.drift is not None:
            layer.drift = {"kind": config.drift, "strength": round(float(rng.uniform(0.5, 0.8)), 3)}
            if config.drift == "texture":
                other = texture_names[(k - 1 + config.n_objects) % len(texture_names)]
                layer.texture_b = sample_texture(rng, other, *layer.texture.shape[:2])
                layer.drift["texture"] = other
            else:
                layer.drift["direction"] = int(rng.choice([-1, 1]))
                layer.drift["tint"] = [round(float(c), 3) for c in rng.uniform(-1.0, 1.0, 3)]
        targets.append(layer)
    return targets


def _make_background(rng: np.random.Generator, config: SequenceConfig, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A textured canvas larger than the frame and the camera's top-left corner on it per frame (a slow pan)."""
    length, height, width = config.length, config.height, config.width
    pan_speed = config.camera_pan * height * rng.uniform(0.5, 1.5)
    pan_angle = rng.uniform(0, 2 * np.pi)
    pad = int(math.ceil(pan_speed * length / 2 + 4))
    canvas = sample_texture(rng, name, height + 2 * pad, width + 2 * pad, zoom=rng.uniform(0.8, 1.5))
    times = np.arange(length) - (length - 1) / 2
    corners = pad - np.outer(times, [np.cos(pan_angle), np.sin(pan_angle)]) * pan_speed
    return 0.1 + 0.8 * canvas, corners


@dataclass
class _Occluder:
    """A full-height textured band drawn over everything (label 0): columns [lo, hi) per frame, or None."""

    columns: list[tuple[int, int] | None]
    texture: np.ndarray
    texture_name: str


def _make_occluder(rng: np.random.Generator, config: SequenceConfig, layer: _Layer, name: str) -> _Occluder:
    """The occluder that hides ``layer`` for exactly the frames of ``config.hide_object``."""
    spans = []
    for t in range(config.length):
        shape = _shape_alpha(layer, t, config.height, config.width)
        cols = np.nonzero((shape[1] >= 0.5).any(axis=0))[0] if shape else []
        spans.append((shape[0][2] + int(cols[0]), shape[0][2] + int(cols[-1]) + 1) if len(cols) else None)
    _, start, length = config.hide_object
    columns, cover = _occluder_columns(spans, start, length, int(rng.choice([-1, 1])), config.width)
    return _Occluder(columns, sample_texture(rng, name, config.height, cover, zoom=rng.uniform(0.8, 1.5)), name)


def _render(
    config: SequenceConfig, background: np.ndarray, corners: np.ndarray, depth: list[_Layer], occluder: _Occluder | None
) -> tuple[np.ndarray, np.ndarray, dict[int, np.ndarray]]:
    """Draw every frame back to front. Returns frames, masks and, per target, per frame: visible pixels, pixels
    inside the frame, pixels covered by other objects, full area (pixels, frame borders ignored)."""
    length, height, width = config.length, config.height, config.width
    frames = np.zeros((length, height, width, 3), np.uint8)
    masks = np.zeros((length, height, width), np.uint8)
    stats = {layer.label: np.zeros((length, 4)) for layer in depth if layer.label}
    on_top = len(depth)
    labels = np.array([layer.label for layer in depth] + [0, 0], np.uint8)  # owner -1 (background), on_top: 0
    for t in range(length):
        shift = np.array([[1.0, 0.0, -corners[t, 0]], [0.0, 1.0, -corners[t, 1]]])
        canvas = cv2.warpAffine(background, shift, (width, height), flags=cv2.INTER_LINEAR, borderMode=_BORDER)
        owner = np.full((height, width), -1, np.int16)
        drawn = []
        for index, layer in enumerate(depth):
            shape = _shape_alpha(layer, t, height, width) if t >= layer.start else None
            if shape is not None:
                (y0, y1, x0, x1), alpha = shape
                texture = _warp_texture(layer, t, layer.texture_at(t, length), (y0, y1, x0, x1))
                region = canvas[y0:y1, x0:x1]
                region += alpha[..., None] * (texture - region)
                owner[y0:y1, x0:x1][alpha >= 0.5] = index
            drawn.append((index, layer, shape))
        if occluder is not None and occluder.columns[t] is not None:
            lo, hi = occluder.columns[t]
            canvas[:, max(lo, 0) : min(hi, width)] = occluder.texture[:, max(lo, 0) - lo : min(hi, width) - lo]
            owner[:, max(lo, 0) : min(hi, width)] = on_top
        for index, layer, shape in drawn:
            if layer.label == 0 or t < layer.start:
                continue
            counts = (0, 0, 0)
            if shape is not None:
                (y0, y1, x0, x1), alpha = shape
                covered = owner[y0:y1, x0:x1][alpha >= 0.5]
                by_others = (covered != index) & (covered >= 0) & (covered < on_top)
                counts = ((covered == index).sum(), covered.size, by_others.sum())
            stats[layer.label][t] = (*counts, layer.areas[t])
        masks[t] = labels[owner]
        frames[t] = np.clip(canvas * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return frames, masks, stats


def make_sequence(config: SequenceConfig, seed: int | np.random.Generator) -> tuple[np.ndarray, np.ndarray, dict]:
    """Render one sequence: frames [T,H,W,3] uint8, masks [T,H,W] uint8 (0 background, 1..n_objects), events.

    ``events`` (JSON-ready) holds the config and seed, the measured ``knobs`` that fired, per-object details
    (first frame, hidden / out-of-frame / occluded frames, visible fraction per frame, path length in object sizes,
    scale range, rotation, deformation, drift, texture) and the distractors.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    sources = [str(name) for name in rng.permutation(list(TEXTURE_SOURCES))]
    targets = _make_targets(rng, config, sources[1:-1])
    distractors = []
    for _ in range(config.n_distractors):
        twin = targets[(config.distractor_of or int(rng.integers(1, config.n_objects + 1))) - 1]
        distractors.append(_new_layer(rng, config, 0, twin.texture_name, twin.r0 * rng.uniform(0.85, 1.15), twin))
    layers = targets + distractors

    hidden = targets[config.hide_object[0] - 1] if config.hide_object else None
    exit_layer = next(t for t in targets if t.start == 0 and t is not hidden) if config.exit_reenter else None
    free = [t for t in targets if t.start == 0 and t is not exit_layer and t is not hidden]
    pair = (free + distractors + [hidden])[:2] if config.crossing else None
    if hidden is not None:
        hidden.margin = 1.0
    _plan_motion(rng, config, layers, exit_layer, pair)

    depth = [layers[i] for i in rng.permutation(len(layers)) if layers[i] is not hidden] + ([hidden] if hidden else [])
    if pair is not None and depth.index(pair[0]) > depth.index(pair[1]):
        i, j = depth.index(pair[0]), depth.index(pair[1])
        depth[i], depth[j] = depth[j], depth[i]
    background, corners = _make_background(rng, config, sources[0])
    occluder = _make_occluder(rng, config, hidden, sources[-1]) if hidden is not None else None
    frames, masks, stats = _render(config, background, corners, depth, occluder)

    events = _events(config, seed, targets, distractors, stats)
    events.update(background=sources[0], occluder=None if occluder is None else occluder.texture_name,
                  camera_pan_px=round(float(np.hypot(*(corners[-1] - corners[0]))), 1))
    if config.hide_object is not None:
        obj, start, length = config.hide_object
        if events["objects"][str(obj)]["hidden_frames"] != list(range(start, start + length)):
            raise RuntimeError(f"object {obj} not hidden in exactly frames {start}..{start + length - 1}")
    return frames, masks, events


def _frames(flags: np.ndarray) -> list[int]:
    return [int(t) for t in np.nonzero(flags)[0]]


def _events(config: SequenceConfig, seed, targets: list[_Layer], distractors: list[_Layer], stats: dict) -> dict:
    """Measured events of a rendered sequence (JSON-ready); ``knobs`` says which ones fired."""
    objects = {}
    frame_index = np.arange(config.length)
    for layer in targets:
        visible, in_frame, by_objects, area = stats[layer.label].T
        shown = np.nonzero(visible > 0)[0]
        first = int(shown[0]) if len(shown) else None
        after = frame_index >= (first if first is not None else config.length)
        out = after & (in_frame == 0)
        size = 2 * layer.r0 * float(np.mean(layer.scale[layer.start :]))
        steps = np.diff(layer.centre[layer.start :], axis=0)
        objects[str(layer.label)] = {
            "first_frame": first,
            "texture": layer.texture_name,
            "hidden_frames": _frames(after & (visible == 0)),
            "out_of_frame_frames": _frames(out),
            "full_occlusion_frames": _frames(after & (visible == 0) & (in_frame > 0)),
            "occluded_by_object_frames": _frames(after & (in_frame > 0) & (by_objects >= 0.25 * in_frame)),
            "exit_reenter": bool(out.any() and (visible[np.argmax(out) :] > 0).any()),
            "visible_fraction": [round(float(v / max(a, 1e-9)), 3) for v, a in zip(visible, area)],
            "path_length_sizes": round(float(np.hypot(*steps.T).sum() / size), 2),
            "scale_range": [round(float(layer.scale.min()), 3), round(float(layer.scale.max()), 3)],
            "rotation_deg": round(float(np.rad2deg(abs(layer.angle[-1] - layer.angle[0]))), 1),
            "deform": round(float(layer.deform), 3),
            "drift": layer.drift,
        }
    values = list(objects.values())
    knobs = {
        "n_objects": len(targets),
        "distractor": len(distractors),
        "crossing": any(o["occluded_by_object_frames"] for o in values),
        "exit_reenter": any(o["exit_reenter"] for o in values),
        "full_occlusion": any(o["full_occlusion_frames"] for o in values),
        "drift": config.drift,
        "scale": any(o["scale_range"][1] / o["scale_range"][0] >= 1.6 for o in values),
        "rotation": any(o["rotation_deg"] >= 90 for o in values),
        "deform": any(o["deform"] >= 0.1 for o in values),
        "mid_video": sorted(int(k) for k, o in objects.items() if o["first_frame"] not in (0, None)),
    }
    return {
        "config": dataclasses.asdict(config),
        "seed": None if isinstance(seed, np.random.Generator) else int(seed),
        "knobs": knobs,
        "objects": objects,
        "distractors": [{"twin_of": d.twin_of, "texture": d.texture_name} for d in distractors],
    }
