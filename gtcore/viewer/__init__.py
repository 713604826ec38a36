"""The auditor's manifest viewer: opening manifests for audit, the columnar label table, tiles,
provenance from worker responses, COCO/YOLO/VOC export and its linter.

Imports: gtcore.images and everything below it (not gtcore.jobform).
"""
