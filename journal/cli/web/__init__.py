"""The web page of ``journal serve``: a Starlette app (:mod:`.app`) over the CLI's own
queries (:mod:`.data`), with live updates (:mod:`.live`), a text search
(:mod:`.search`) and its page assets in ``static/``.

Imported only by ``journal serve``: it needs the ``serve`` extra (Starlette, uvicorn).
"""
