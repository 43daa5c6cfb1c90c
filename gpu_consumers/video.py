"""MP4 export and verification: frames in, H.264 out, and a decode of every frame to prove the file is whole.

The MP4 is written with `faststart` (the index before the media), so a browser plays it while it downloads;
the poster is the first frame as a JPEG.

PyAV's exceptions are converted here into `ArtifactInvalid` so that nothing above this adapter sees them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Final

import av
import av.error

from gpu_consumers.render.base import RenderedVideo
from reelstream.errors import ReelstreamError

logger = logging.getLogger(__name__)

CODEC: Final = "libx264"
PIXEL_FORMAT: Final = "yuv420p"
POSTER_QUALITY: Final = 90


class ArtifactInvalid(ReelstreamError):
    """A video file that does not decode, or decodes to other frames than the render produced."""

    code = "artifact_invalid"


@dataclass(frozen=True)
class VideoInfo:
    frames: int
    width: int
    height: int
    fps: float
    duration_seconds: float
    codec: str


def encode_mp4(video: RenderedVideo, path: str | Path) -> None:
    """Write `video` as H.264 (yuv420p), one frame per 1/fps tick, so it plays at exactly `video.fps`."""
    frames = video.frames
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] == 0:
        raise ArtifactInvalid(f"expected frames of shape (F, H, W, 3) with F > 0, got {frames.shape}")
    num_frames, height, width, _ = frames.shape
    if height % 2 or width % 2:
        raise ArtifactInvalid(f"{PIXEL_FORMAT} needs even sizes, got {width}x{height}")
    rate = Fraction(video.fps)
    try:
        with av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
            stream = container.add_stream(CODEC, rate=rate)
            stream.width = width
            stream.height = height
            stream.pix_fmt = PIXEL_FORMAT
            # frames are stamped in 1/fps ticks; the muxer picks its own (finer) stream time base, which
            # keeps B-frame decode timestamps strictly increasing (a 1/fps stream time base does not)
            for index in range(num_frames):
                frame = av.VideoFrame.from_ndarray(frames[index], format="rgb24")
                frame.pts = index
                frame.time_base = 1 / rate
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
    except av.error.FFmpegError as exc:
        raise ArtifactInvalid(f"{path}: could not encode: {exc}") from exc
    logger.debug("encoded mp4", extra={"frames": num_frames, "width": width, "height": height})


def probe_mp4(path: str | Path) -> VideoInfo:
    """Decode every frame of the first video stream; raise ArtifactInvalid if the file does not decode."""
    try:
        with av.open(str(path), mode="r") as container:
            if not container.streams.video:
                raise ArtifactInvalid(f"{path}: no video stream")
            stream = container.streams.video[0]
            frames = 0
            width = height = 0
            for frame in container.decode(stream):
                frames += 1
                width, height = frame.width, frame.height
            fps = float(stream.average_rate) if stream.average_rate else 0.0
            codec = stream.codec_context.name
    except av.error.FFmpegError as exc:
        raise ArtifactInvalid(f"{path}: does not decode: {exc}") from exc
    if frames == 0:
        raise ArtifactInvalid(f"{path}: no decodable frames")
    duration = frames / fps if fps else 0.0
    return VideoInfo(
        frames=frames, width=width, height=height, fps=fps, duration_seconds=duration, codec=codec
    )


def verify_mp4(
    path: str | Path, *, frames: int, width: int, height: int, fps: float | None = None
) -> VideoInfo:
    """Probe `path` and check it holds exactly `frames` frames of `width`x`height` (at `fps`, if given)."""
    info = probe_mp4(path)
    expected = (frames, width, height)
    actual = (info.frames, info.width, info.height)
    if actual != expected:
        raise ArtifactInvalid(
            f"{path}: expected {frames} frames of {width}x{height}, "
            f"decoded {info.frames} frames of {info.width}x{info.height}"
        )
    if fps is not None and abs(info.fps - fps) > 1e-6:
        raise ArtifactInvalid(f"{path}: expected {fps:g} fps, decoded {info.fps:g}")
    return info


def is_faststart(path: str | Path) -> bool:
    """Whether the MP4's index (`moov`) comes before its media (`mdat`): top-level boxes read in order."""
    with Path(path).open("rb") as handle:
        while header := handle.read(8):
            if len(header) < 8:
                return False
            size, kind = int.from_bytes(header[:4], "big"), header[4:8]
            if kind in (b"moov", b"mdat"):
                return kind == b"moov"
            if size == 1:  # a 64-bit size follows the type
                size = int.from_bytes(handle.read(8), "big") - 8
            if size < 8:
                return False
            handle.seek(size - 8, 1)
    return False


def write_poster(video: RenderedVideo, path: str | Path) -> None:
    """The first frame as a JPEG, the still a player shows before the video starts."""
    from PIL import Image

    try:
        Image.fromarray(video.frames[0]).save(path, format="JPEG", quality=POSTER_QUALITY)
    except (OSError, ValueError, IndexError) as exc:
        raise ArtifactInvalid(f"{path}: could not write the poster: {exc}") from exc
