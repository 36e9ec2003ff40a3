"""What bench/run.py runs: the app servers and their databases (servers, databases), the
measurements in Chromium (measures, with the JavaScript of bench/js/) and the report
(report). `common` holds the paths and names they share."""
