"""Ground Truth's JSON Lines files: reading, writing and validating manifests (every bad line reported),
source-ref checks, automated data setup, the label category config, the augmented (output) manifest
reader, label values, sample data.

Imports: gtcore.context, gtcore.storage, gtcore.core.
"""
