"""The mail channel: the outbox worker that sends notifications over SMTP, and the two ways in
(an IMAP fetcher and an SMTP/LMTP gateway) that turn mail into tickets and messages through
the services, like the web pages and the command line do. See docs/email.md."""
