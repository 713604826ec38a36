"""Streamlit glue. The only part of gtcore that imports streamlit."""
