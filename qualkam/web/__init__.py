"""``qualkam serve``: the coding workspace in the browser (issue 13).

``create_app`` (``qualkam.web.app``) builds the Starlette application; ``auth`` guards it,
``api`` answers JSON, ``pages`` renders HTML. Every asset is in ``templates/`` and
``static/``: the pages load nothing from outside.
"""

from __future__ import annotations

__all__ = ["create_app"]


def __getattr__(name: str) -> object:
    if name == "create_app":
        from qualkam.web.app import create_app

        return create_app
    raise AttributeError(name)
