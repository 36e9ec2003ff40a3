"""Storage: the schema, engines and transactions, and every SQL write. A ticket is written only
by tickets.save, which keeps every derived table through projections."""
