"""Streamlit dashboard that reads a results database: the entry script, its pages and their helpers."""
