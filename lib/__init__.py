"""Backoffice: the library behind the Streamlit pages."""
