"""The load generator of bench/load_run.py (issue 23): many signed-in agents on one app server,
speaking Streamlit's own WebSocket protocol, and a few real browsers beside them.

- protocol.py: what a browser tab keeps of the server's ForwardMsgs (elements, widget values,
  the message cache, script runs) and the BackMsgs it sends; no I/O, unit-tested;
- tab.py: one tab over HTTP and the WebSocket: sign-in, page loads, reruns, timed reruns;
- agents.py: what an agent does (the action mix, think time) over a Tab, and in Chromium;
- meter.py: the server's CPU and memory from /proc, PostgreSQL's backends of the app;
- steps.py: one run (servers, accounts, the steps of N sessions); report.py: its tables;
- servers.py: the app server, or with --servers K, K of them behind HAProxy, and what the
  proxy's log says of how the sessions were spread.
"""
