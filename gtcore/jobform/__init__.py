"""The Create job form model (no Streamlit): fields, defaults, problems in form terms, the data actions
(data setup, uploads, sample data), building the CreateLabelingJob request, the preview task.

Sits above gtcore.images because its preview renders a task exactly as annotators get it.
Imports: gtcore.images and everything below it (not gtcore.viewer).
"""
