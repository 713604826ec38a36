"""Ground Truth's output tree: the output and intermediate manifests, consolidation request/response files,
worker-response files, the output record of each task type, image sizes for output lines.

Imports: gtcore.consolidation, gtcore.manifests, gtcore.context, gtcore.storage, gtcore.core.
"""
