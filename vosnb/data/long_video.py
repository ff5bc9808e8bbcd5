"""Synthetic long videos (RDE-VOS §4.3, Fig. 3): a sequence played forward then backward, repeated.

RDE-VOS builds long videos from a DAVIS sequence ("cows") by "exerting video forward and backward as a basic unit"
and reports lengths of 1, 10, 15 and 20 times the original. Since 15 is odd, the multiplier counts single passes:
``repeat_forward_backward(video, n)`` has ``n * len(video)`` frames, pass ``k`` playing forward for even ``k`` and
backward for odd ``k`` (n = 1 is the original, n = 2 one forward-backward unit). Every frame keeps its ground
truth, and consecutive frames stay consecutive in the source (at a turn the end frame is shown twice). Frames are
produced by index mapping: nothing is copied, on disk or in memory.
"""
from __future__ import annotations

import numpy as np

from vosnb.errors import DataError
from vosnb.data.video import Video


def forward_backward_indices(length: int, n: int) -> np.ndarray:
    """Source frame index of each frame of the ``n``-pass ping-pong video over ``length`` frames."""
    forward = np.arange(length)
    return np.concatenate([forward if k % 2 == 0 else forward[::-1] for k in range(n)])


def repeat_forward_backward(video: Video, n: int) -> Video:
    """The RDE-VOS Fig. 3 long video: ``video`` played n passes, alternating forward and backward (see module doc)."""
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise DataError(f"repeat_forward_backward: n must be a positive integer (number of passes), got {n!r}")
    index = forward_backward_indices(len(video), int(n))
    return Video(
        name=f"{video.name}_x{n}",
        frame_names=[f"{t:05d}" for t in range(len(index))],
        object_ids=video.object_ids,
        first_frame=video.first_frame,
        height=video.height,
        width=video.width,
        frame_loader=lambda t: video.frame(int(index[t])),
        mask_loader=lambda t: video.mask(int(index[t])),
    )


def clip(video: Video, length: int) -> Video:
    """The first ``length`` frames of ``video``, loaded lazily from it (a shorter base for long videos); every
    object must start within them."""
    late = {k: t for k, t in video.first_frame.items() if t >= length}
    if not 3 <= length <= len(video) or late:
        raise DataError(f"clip({video.name!r}, length={length}): need 3 ≤ length ≤ {len(video)} and every object "
                        f"introduced before it (objects starting later: {late})")
    return Video(name=f"{video.name}[:{length}]", frame_names=video.frame_names[:length], object_ids=video.object_ids,
                 first_frame=video.first_frame, height=video.height, width=video.width, frame_loader=video.frame,
                 mask_loader=video.mask)
