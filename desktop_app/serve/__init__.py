"""`modeldesk serve`: every model in the registry behind one OpenAI-compatible HTTP API.

Runs as its own process (the window starts it as a child and never imports this package). The
pieces: ``config`` (bind address, token, what may be served; no web framework), ``wire`` (OpenAI's
request shapes), ``mapping`` (OpenAI ↔ ModelDesk's core chat types and errors), ``app`` (the FastAPI
routes over ``services.serving``) and ``server`` (uvicorn on a socket bound here).
"""
