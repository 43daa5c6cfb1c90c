"""Admission's side of the long-job estimator (reelstream.long_jobs): score each admitted job, and when its
JobFinished comes back compare the prediction with the truth (counted per model) and learn from it.

Plain state, no Kafka. The features of a scored job are kept until its JobFinished arrives (bounded: the
oldest are dropped first), so learning happens in the admission replica that admitted the job; the learned
weights live in memory (a restarted admission starts again from the priors, and the outcome counts still
come from what JobFinished carries).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from reelstream.cost_model import CostModel
from reelstream.long_jobs import JobFeatures, LongJobEstimator, Outcome, outcome
from schemas.events import JobAdmitted, JobFinished

logger = logging.getLogger(__name__)

MOST_PENDING = 100_000  # scored jobs whose features wait for their outcome
Judged = Callable[[str, Outcome], None]  # (model, outcome): e.g. Metrics.long_job_outcome


@dataclass
class LongJobTracker:
    estimator: LongJobEstimator = field(default_factory=LongJobEstimator)
    cost: CostModel = field(default_factory=CostModel)  # the cost priors (the scheduler learns its own)
    judged: Judged | None = None
    most_pending: int = MOST_PENDING
    _pending: OrderedDict[str, JobFeatures] = field(default_factory=OrderedDict)

    def scored(self, admitted: JobAdmitted, in_flight: int) -> JobAdmitted:
        """The admission with the estimator's verdict on it; its features kept for the outcome."""
        features = JobFeatures.of(admitted.prompt, admitted.params, admitted.tenant_id, in_flight, self.cost)
        estimate = self.estimator.estimate(features)
        self._pending[admitted.job_id] = features
        self._pending.move_to_end(admitted.job_id)
        while len(self._pending) > self.most_pending:
            self._pending.popitem(last=False)
        return replace(
            admitted, predicted_long=estimate.predicted_long, long_probability=estimate.probability
        )

    def finished(self, done: JobFinished) -> Outcome | None:
        """Judge and learn from a job that ended (once per job: admission calls it on the first release).
        Only a successful render tells the truth; a failed or canceled job teaches nothing."""
        features = self._pending.pop(done.job_id, None)
        if done.render_seconds is None:
            return None
        was_long = self.estimator.is_long(done.render_seconds)
        judged: Outcome | None = None
        if done.predicted_long is not None:
            judged = outcome(done.predicted_long, was_long)
            if self.judged is not None:
                self.judged(done.model or "unknown", judged)
        if features is not None:
            self.estimator = self.estimator.learn(features, done.render_seconds)
        return judged
