from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from gpu_consumers.render.base import RenderedVideo
from gpu_consumers.video import ArtifactInvalid, encode_mp4, probe_mp4, verify_mp4

VideoFactory = Callable[..., RenderedVideo]
Mp4Factory = Callable[..., Path]


@pytest.fixture
def video_factory() -> VideoFactory:
    """Synthetic moving gradients: every frame differs, so a dropped or duplicated frame would show."""

    def factory(*, frames: int = 13, width: int = 48, height: int = 32, fps: int = 12) -> RenderedVideo:
        t, y, x = np.meshgrid(np.arange(frames), np.arange(height), np.arange(width), indexing="ij")
        rgb = np.stack([(x * 5 + t * 17) % 256, (y * 7) % 256, (t * 29) % 256], axis=-1)
        return RenderedVideo(frames=rgb.astype(np.uint8), fps=fps)

    return factory


@pytest.fixture
def mp4_factory(tmp_path: Path, video_factory: VideoFactory) -> Mp4Factory:
    def factory(name: str = "video.mp4", **overrides: int) -> Path:
        path = tmp_path / name
        encode_mp4(video_factory(**overrides), path)
        return path

    return factory


def test_round_trip_keeps_frame_count_size_and_fps(mp4_factory: Mp4Factory) -> None:
    path = mp4_factory(frames=13, width=48, height=32, fps=12)

    info = verify_mp4(path, frames=13, width=48, height=32)

    assert (info.frames, info.width, info.height) == (13, 48, 32)
    assert info.fps == 12.0
    assert info.duration_seconds == pytest.approx(13 / 12)
    assert info.codec == "h264"


def test_probe_counts_a_single_frame_video(mp4_factory: Mp4Factory) -> None:
    path = mp4_factory(frames=1, width=16, height=16, fps=24)

    info = probe_mp4(path)

    assert (info.frames, info.width, info.height, info.fps) == (1, 16, 16, 24.0)


def test_wrong_expected_frame_count_is_invalid(mp4_factory: Mp4Factory) -> None:
    path = mp4_factory(frames=13)

    with pytest.raises(ArtifactInvalid, match="expected 12 frames"):
        verify_mp4(path, frames=12, width=48, height=32)


def test_odd_expected_size_is_invalid_not_a_crash(mp4_factory: Mp4Factory) -> None:
    path = mp4_factory(frames=7, width=48, height=32)

    with pytest.raises(ArtifactInvalid):
        verify_mp4(path, frames=7, width=47, height=31)


def test_truncated_file_is_invalid(mp4_factory: Mp4Factory) -> None:
    path = mp4_factory(frames=13)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])

    with pytest.raises(ArtifactInvalid) as caught:
        verify_mp4(path, frames=13, width=48, height=32)

    assert caught.value.code == "artifact_invalid"


def test_garbage_file_is_invalid(tmp_path: Path) -> None:
    path = tmp_path / "garbage.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())

    with pytest.raises(ArtifactInvalid):
        verify_mp4(path, frames=13, width=48, height=32)


def test_missing_file_is_invalid(tmp_path: Path) -> None:
    with pytest.raises(ArtifactInvalid):
        probe_mp4(tmp_path / "missing.mp4")


def test_odd_sized_frames_are_refused_before_encoding(tmp_path: Path, video_factory: VideoFactory) -> None:
    with pytest.raises(ArtifactInvalid, match="even"):
        encode_mp4(video_factory(width=47, height=31), tmp_path / "odd.mp4")


def test_unwritable_path_is_converted(tmp_path: Path, video_factory: VideoFactory) -> None:
    with pytest.raises(ArtifactInvalid, match="could not encode"):
        encode_mp4(video_factory(), tmp_path / "missing-dir" / "video.mp4")


def test_noisy_clips_long_enough_for_b_frames_encode(tmp_path: Path) -> None:
    """x264 reorders frames once there are enough of them; with a 1/fps stream time base the muxer then saw
    non-increasing timestamps and refused the clip (a tiny-Mochi render of 256×256×61 hit this)."""
    rng = np.random.default_rng(7)
    base = rng.integers(0, 255, size=(1, 256, 256, 3), dtype=np.uint8)
    drift = rng.integers(0, 40, size=(61, 256, 256, 3), dtype=np.uint8)
    path = tmp_path / "noisy.mp4"
    encode_mp4(RenderedVideo(frames=(base + drift).astype(np.uint8), fps=24), path)
    info = verify_mp4(path, frames=61, width=256, height=256)
    assert info.fps == 24.0
