"""WhiteNoise, with its file responses streamed under ASGI too.

Django serves a sync file iterator over ASGI by first reading all of it into a list (and warns
on every request); here the same iterator is handed over as an async one, read in batches in the
request's thread (datasets_app/api/streaming.py)."""

from __future__ import annotations

from django.core.handlers.asgi import ASGIRequest
from whitenoise.middleware import WhiteNoiseMiddleware

from datasets_app.api.streaming import as_async_chunks


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    @staticmethod
    def serve(static_file, request):
        response = WhiteNoiseMiddleware.serve(static_file, request)
        if isinstance(request, ASGIRequest) and response.streaming and not response.is_async:
            response.streaming_content = as_async_chunks(response.streaming_content)
        return response
