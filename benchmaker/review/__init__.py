"""Human review of generated items: the append-only reviews log, applying decisions to items, the local web app.

``models`` (records), ``log`` (reviews.jsonl: append under a lock, stale decisions refused), ``apply``
(items as reviewed: rejected left out, corrections applied), ``source`` (a run or a release version to
review), ``stats`` (how often reviewers overturned each evidence level), ``app`` (the FastAPI pages).
"""
