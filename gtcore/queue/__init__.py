"""The annotators' task queue: claims and leases (expiry), the worker's actions (submit, decline, release,
stop/resume, drafts), answer checks, the previous boxes of adjustment tasks, the worker's job list.

Imports: gtcore.jobs and everything below it.
"""
