"""gtcore: a self-hosted re-implementation of SageMaker Ground Truth's private-workforce labeling.

The package is usable without Streamlit (CLI, scripts, tests); only ``gtcore.ui`` imports it.
"""

__version__ = "0.1.0"
