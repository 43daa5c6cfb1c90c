"""The deviation measures on known inputs: relative error of latents, PSNR of frames, the gate."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gpu_consumers.render.deviation import GATE, Deviation, Gate, deviation, psnr, relative_error


def test_relative_error_of_known_arrays() -> None:
    reference = np.array([3.0, 4.0])  # norm 5
    assert relative_error(reference, reference) == 0.0
    assert relative_error(np.array([3.0, 4.5]), reference) == pytest.approx(0.1)
    assert relative_error(-reference, reference) == pytest.approx(2.0)


def test_relative_error_against_zeros() -> None:
    zeros = np.zeros(3)
    assert relative_error(zeros, zeros) == 0.0
    assert relative_error(np.ones(3), zeros) == math.inf


def test_relative_error_does_not_overflow_in_low_precision() -> None:
    reference = np.full(1000, 60000.0, dtype=np.float16)  # squares overflow float16
    assert relative_error(reference * np.float16(0.5), reference) == pytest.approx(0.5)


def test_psnr_of_known_frames() -> None:
    reference = np.zeros((2, 4, 4, 3), dtype=np.uint8)
    assert psnr(reference, reference) == math.inf
    off_by_one = reference + 1  # MSE 1 -> 20 log10(255)
    assert psnr(off_by_one, reference) == pytest.approx(20 * math.log10(255))
    # uint8 arithmetic must not wrap: 0 - 255 is a difference of 255, PSNR 0 dB
    assert psnr(np.full_like(reference, 255), reference) == pytest.approx(0.0)
    floats = reference.astype(np.float32)
    assert psnr(floats + 0.1, floats, peak=1.0) == pytest.approx(20.0)


def test_shapes_must_match() -> None:
    with pytest.raises(ValueError, match="shapes differ"):
        relative_error(np.zeros(2), np.zeros(3))
    with pytest.raises(ValueError, match="shapes differ"):
        psnr(np.zeros((1, 2)), np.zeros((2, 1)))


def test_deviation_finds_the_worst_frame() -> None:
    reference = np.full((3, 2, 2, 3), 100, dtype=np.uint8)
    frames = reference.copy()
    frames[1] += 10  # one bad frame: MSE 100 -> 28.13 dB; the clip's MSE is a third of that
    measured = deviation(np.ones(4), np.ones(4), frames, reference)
    assert measured.latent_rel_error == 0.0
    assert measured.min_frame_psnr_db == pytest.approx(10 * math.log10(255**2 / 100))
    assert measured.frames_psnr_db == pytest.approx(10 * math.log10(255**2 / (100 / 3)))
    assert measured.record()["latent_rel_error"] == 0.0


def test_record_writes_identical_frames_as_inf() -> None:
    frames = np.zeros((1, 2, 2, 3), dtype=np.uint8)
    assert deviation(np.ones(2), np.ones(2), frames, frames).record()["frames_psnr_db"] == "inf"


def test_gate_names_each_failure() -> None:
    gate = Gate(max_latent_rel_error=0.05, min_frames_psnr_db=30.0, min_frame_psnr_db=25.0)
    assert gate.failures(Deviation(0.01, 40.0, 35.0)) == []
    failures = gate.failures(Deviation(0.2, 20.0, 10.0))
    assert [f.split()[0] for f in failures] == ["latent", "PSNR", "worst"]
    assert GATE.failures(Deviation(0.0, math.inf, math.inf)) == []
