"""The share process's AppContext: the one place every model request passes (``backend``) refuses
remote sources unless the launcher allowed them, so neither a chat, an evaluation, its judge nor its
embedding model can reach a paid service through the page, whatever the browser sends."""

from __future__ import annotations

from dataclasses import dataclass

from desktop_app.core.backend import ModelBackend
from desktop_app.core.enums import ServingType
from desktop_app.core.errors import InvalidInput
from desktop_app.core.models import SourceConfig
from desktop_app.services.context import AppContext

__all__ = ["ShareContext"]


@dataclass
class ShareContext(AppContext):
    allow_remote: bool = False

    def backend(self, source: str | SourceConfig) -> ModelBackend:
        config = source if isinstance(source, SourceConfig) else self.settings.source(source)
        if config.serving_type is not ServingType.LOCAL and not self.allow_remote:
            raise InvalidInput(
                "Remote models are not shared here (the app was started without --allow-remote)."
            )
        return super().backend(config)
