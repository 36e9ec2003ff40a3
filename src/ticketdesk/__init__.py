"""Ticket desk: support tickets on a real SQL database (no Streamlit import here)."""
