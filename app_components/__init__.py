"""Pieces the Streamlit pages share (app_pages/ holds the pages themselves)."""
