"""Labeling jobs: the CreateLabelingJob spec and its checks, preflight validation of the input, create,
describe/list, stop/clone/chain/fail, finishing (consolidation and final output), progress figures.

Imports: gtcore.output and everything below it (consolidation, workforce, manifests, context, storage, core).
"""
