"""The parts the Streamlit pages (app_pages/) are built from: the signed-in session and the
live view (session.py), one way to show notices (notices.py), every session-state key
(keys.py), Markdown-safe text (text.py), the ticket grid (ticket_grid.py), one ticket's view
(ticket_detail.py) and the dashboard's charts (charts.py). Like the pages, they call
ticketdesk.services only, never the store or the queries below it."""
