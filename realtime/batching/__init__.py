"""``realtime batch``: many files, one or many machines, on Ray; resumable, with a manifest.

The layers: :mod:`~realtime.batching.plan` (which files, which outputs), :mod:`~realtime.batching.manifest`
(what was done), :mod:`~realtime.batching.worker` (one Ray actor, whole files through
:class:`~realtime.job.EnhanceJob`) and :mod:`~realtime.batching.driver` (Ray, the pool, progress).
Ray is imported only when a batch runs (the optional extra ``realtime-enhance[batch]``).
"""

from realtime.batching.driver import BatchError, BatchOptions, BatchReport, WorkerSummary, run_batch
from realtime.batching.manifest import MANIFEST_NAME, Manifest, Record, Status
from realtime.batching.plan import BatchItem, plan

__all__ = ["MANIFEST_NAME", "BatchError", "BatchItem", "BatchOptions", "BatchReport", "Manifest", "Record",
           "Status", "WorkerSummary", "plan", "run_batch"]
