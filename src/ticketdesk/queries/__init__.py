"""Reads: the ticket table, single tickets, the dashboard's figures. The caller owns the
transaction."""
