"""How far a render made with a speed lever (FP8, the fast tier) is from the reference on the same seed.

Real weights are not reachable where this is developed, so quality is measured as deviation, never as
absolute quality: the relative error of the final latents (what the transformer produced) and the PSNR of
the decoded frames (what a viewer sees). Pure numpy; the bench and the tests feed it arrays.

`GATE` is the check operators run with the real weights before switching an FP8 lever on in production
(README, "FP8 and the fast tier: the quality gate"): each prompt's bf16 and FP8 renders, same seed, must pass
it. The fast tier trades output for time on purpose; its deviation is reported by the same measures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]


def relative_error(candidate: Array, reference: Array) -> float:
    """‖candidate − reference‖ / ‖reference‖ (Frobenius norms, computed in float64); 0.0 for equal arrays."""
    if candidate.shape != reference.shape:
        raise ValueError(f"shapes differ: {candidate.shape} vs {reference.shape}")
    ref = reference.astype(np.float64)
    diff = float(np.linalg.norm(candidate.astype(np.float64) - ref))
    norm = float(np.linalg.norm(ref))
    if norm == 0.0:
        return 0.0 if diff == 0.0 else math.inf
    return diff / norm


def psnr(candidate: Array, reference: Array, peak: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB, 10·log10(peak² / MSE); +inf for identical frames.

    Frames are uint8 (peak 255) or floats in [0, 1] (pass peak=1.0).
    """
    if candidate.shape != reference.shape:
        raise ValueError(f"shapes differ: {candidate.shape} vs {reference.shape}")
    mse = float(np.mean((candidate.astype(np.float64) - reference.astype(np.float64)) ** 2))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(peak * peak / mse)


@dataclass(frozen=True)
class Deviation:
    latent_rel_error: float
    frames_psnr_db: float
    min_frame_psnr_db: float  # the worst single frame: a glitch in one frame hides in the clip's mean

    def record(self) -> dict[str, float | str]:
        """For a JSON line (an infinite PSNR, identical frames, is written as "inf")."""
        return {
            "latent_rel_error": round(self.latent_rel_error, 6),
            "frames_psnr_db": _db(self.frames_psnr_db),
            "min_frame_psnr_db": _db(self.min_frame_psnr_db),
        }


def _db(value: float) -> float | str:
    return "inf" if math.isinf(value) else round(value, 2)


def deviation(latents: Array, reference_latents: Array, frames: Array, reference_frames: Array) -> Deviation:
    """Latents of any shape; frames uint8, shape (F, H, W, C)."""
    per_frame = [psnr(a, b) for a, b in zip(frames, reference_frames, strict=True)]
    return Deviation(
        latent_rel_error=relative_error(latents, reference_latents),
        frames_psnr_db=psnr(frames, reference_frames),
        min_frame_psnr_db=min(per_frame) if per_frame else math.inf,
    )


@dataclass(frozen=True)
class Gate:
    max_latent_rel_error: float
    min_frames_psnr_db: float
    min_frame_psnr_db: float

    def failures(self, measured: Deviation) -> list[str]:
        """What `measured` breaks, in words; empty when it passes."""
        found = []
        if measured.latent_rel_error > self.max_latent_rel_error:
            found.append(
                f"latent relative error {measured.latent_rel_error:.4f} > {self.max_latent_rel_error}"
            )
        if measured.frames_psnr_db < self.min_frames_psnr_db:
            found.append(f"PSNR {measured.frames_psnr_db:.2f} dB < {self.min_frames_psnr_db} dB")
        if measured.min_frame_psnr_db < self.min_frame_psnr_db:
            found.append(
                f"worst frame PSNR {measured.min_frame_psnr_db:.2f} dB < {self.min_frame_psnr_db} dB"
            )
        return found


# Against the bf16 render of the same prompt and seed, with the real weights (README states the procedure).
GATE: Final = Gate(max_latent_rel_error=0.05, min_frames_psnr_db=30.0, min_frame_psnr_db=25.0)
