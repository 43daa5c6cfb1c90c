"""The invariant checker on hand-made runs: it passes a sound run and catches each kind of violation."""

from __future__ import annotations

from tests.reliability.invariants import ArtifactRecord, Hook, Terminal, Verdict, check

JOBS = ["j1", "j2"]
SOUND_TERMINALS = [Terminal("j1", "succeeded", "e1"), Terminal("j2", "failed", "e2")]
SOUND_HOOKS = [Hook("e1", b"one"), Hook("e2", b"two", 503), Hook("e2", b"two")]
SOUND_ARTIFACTS = [ArtifactRecord("j1", "t/j1/1/video.mp4")]


def _run(
    *,
    terminals: list[Terminal] = SOUND_TERMINALS,
    hooks: list[Hook] = SOUND_HOOKS,
    artifacts: list[ArtifactRecord] = SOUND_ARTIFACTS,
    hooks_expected: bool = False,
) -> Verdict:
    return check(JOBS, terminals, hooks, artifacts, hooks_expected=hooks_expected)


def test_a_sound_run_has_no_violations_and_counts_its_states() -> None:
    verdict = _run(hooks_expected=True)
    assert verdict.violations == ()
    assert verdict.summary() == {
        "jobs": 2,
        "states": {"succeeded": 1, "failed": 1},
        "lost": 0,
        "duplicated": 0,
        "undelivered_hooks": 0,
        "redelivered_hooks": 0,
    }


def test_a_job_never_terminal_is_lost() -> None:
    verdict = _run(terminals=SOUND_TERMINALS[:1])
    assert verdict.lost == ["j2"]
    assert verdict.violations == ("job j2 was accepted and never reached a terminal state",)


def test_a_job_ending_twice_is_doubled() -> None:
    twice = [*SOUND_TERMINALS, Terminal("j1", "failed", "e3")]
    verdict = _run(terminals=twice)
    assert verdict.doubled == ["j1"]
    assert verdict.duplicated == 1
    assert "job j1 ended 2 times" in verdict.violations[0]


def test_one_webhook_id_with_two_payloads_is_caught_but_an_identical_redelivery_is_not() -> None:
    redelivered = _run(hooks=[*SOUND_HOOKS, Hook("e1", b"one")])
    assert redelivered.violations == ()
    assert redelivered.redelivered_hooks == 1
    conflicting = _run(hooks=[*SOUND_HOOKS, Hook("e1", b"other")])
    assert conflicting.conflicting_hooks == ["e1"]
    assert conflicting.duplicated == 1


def test_an_undelivered_terminal_event_counts_only_when_hooks_are_expected() -> None:
    only_failures = [Hook("e1", b"one"), Hook("e2", b"two", 500)]
    assert _run(hooks=only_failures).violations == ()
    verdict = _run(hooks=only_failures, hooks_expected=True)
    assert verdict.undelivered_hooks == ["e2"]
    assert verdict.violations == ("terminal event e2 was never delivered",)


def test_a_second_artifact_record_for_a_job_is_caught() -> None:
    again = [*SOUND_ARTIFACTS, ArtifactRecord("j1", "t/j1/2/video.mp4")]
    verdict = _run(artifacts=again)
    assert verdict.doubled_artifacts == ["j1"]
    assert verdict.violations == ("job j1 has 2 artifact records",)


def test_jobs_the_api_did_not_accept_are_ignored() -> None:
    other = [*SOUND_TERMINALS, Terminal("x", "succeeded", "e9"), Terminal("x", "failed", "e8")]
    verdict = _run(
        terminals=other, artifacts=[*SOUND_ARTIFACTS, ArtifactRecord("x", "k"), ArtifactRecord("x", "k")]
    )
    assert verdict.violations == ()
    assert verdict.jobs == 2
