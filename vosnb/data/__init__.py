"""Data layer: DAVIS / YouTube-VOS folders, the synthetic DAVIS-layout set, long-video synthesis, downloads.

Everything reads into `Video` (frames and masks loaded lazily); see docs/DESIGN.md for the contract.
"""
from vosnb.data.davis import DavisDataset
from vosnb.data.io import DAVIS_PALETTE, read_frame, read_mask, write_davis_sequence, write_frame, write_mask
from vosnb.data.long_video import clip, repeat_forward_backward
from vosnb.data.scene import SequenceConfig, make_sequence
from vosnb.data.synthetic import SynthConfig, build_synthetic
from vosnb.data.video import Video
from vosnb.data.youtube import YouTubeVOSDataset

__all__ = [
    "DAVIS_PALETTE",
    "DavisDataset",
    "SequenceConfig",
    "SynthConfig",
    "Video",
    "YouTubeVOSDataset",
    "build_synthetic",
    "make_sequence",
    "read_frame",
    "read_mask",
    "clip",
    "repeat_forward_backward",
    "write_davis_sequence",
    "write_frame",
    "write_mask",
]
