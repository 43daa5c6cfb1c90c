"""The long-task path's alarm: jobs predicted long that failed their one retry too.

The scheduler fails such a job with the error code `LONG_TASK_FAILED_TWICE` (streams.scheduling). It is
counted per pool (`reelstream_long_tasks_failed_twice_total`, what `LongTaskFailedTwice` fires
on), and the last such job of each pool is named by `reelstream_long_task_failed_twice_last`: one series
per pool, its `job_id` label replaced by the next failure, so the alert's annotation can name the job
while the alert's own labels never carry it.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from schemas.events import JobState, JobStatus

LONG_TASK_FAILED_TWICE = "long_task_failed_twice"  # a job predicted long failed its retry too


def failed_twice(status: JobStatus) -> bool:
    return (
        status.state is JobState.FAILED
        and status.error is not None
        and (status.error.code == LONG_TASK_FAILED_TWICE)
    )


class LongTaskFailures:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.count = Counter(
            "reelstream_long_tasks_failed_twice",
            "Jobs predicted long that failed, were retried once with a longer deadline, and failed again",
            ["pool"],
            registry=registry,
        )
        self.last = Gauge(
            "reelstream_long_task_failed_twice_last",
            "When the pool's last long task failed twice (Unix time); its job in the job_id label",
            ["pool", "job_id"],
            registry=registry,
        )
        self._last_job: dict[str, str] = {}

    def expect(self, pool: str) -> None:
        """Start the pool's counter at 0, so the first failure is an increase the alert sees."""
        self.count.labels(pool)

    def observe(self, pool: str, status: JobStatus) -> None:
        if not failed_twice(status):
            return
        self.count.labels(pool).inc()
        previous = self._last_job.pop(pool, None)
        if previous is not None:
            self.last.remove(pool, previous)
        self._last_job[pool] = status.job_id
        self.last.labels(pool, status.job_id).set(status.updated_at.timestamp())
