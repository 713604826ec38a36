"""Automated data labeling (active learning) as Ground Truth does it (groundtruth-reference.md section 6).

Owns the loop's rules (``rules``: the threshold on a one-sided lower bound and the round's check; the fixed numbers
are ``gtcore.core.autolabeling``'s, shared with the Create job form), the validation set as the remaining pool
(``pool``), the built-in learners (``features``, ``classifier``, ``detector``, and
``segmenter`` for semantic segmentation), teams' ONNX models (``onnx_models``), saved models with their checksums
(``models``), machine-label records and the ``activelearning/``, ``training/``, ``inference/`` output folders
(``outputs``), the loop itself (``loop``) and what the status page shows (``status``). It may import gtcore.images
and everything below it; the heavy libraries (numpy, scikit-learn, onnx, onnxruntime) are imported lazily, inside
the functions that need them.
"""
