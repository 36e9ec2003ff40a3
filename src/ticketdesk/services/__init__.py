"""What pages, the command line and the web routes call: the acting account and `now` in, plain
values out, one transaction each; authorisation is checked here."""
