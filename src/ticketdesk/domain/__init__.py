"""The rules of the desk, pure: tickets and their life, accounts and permissions, SLA targets,
durations. No database, no web, no Streamlit (an import-linter contract)."""
