"""The project's API view base (a module of its own: DRF reads the parser setting, which names
``apps.core.api.StrictJSONParser``, while the view class is being defined)."""

from __future__ import annotations

from adrf.views import APIView as AdrfAPIView
from asgiref.sync import iscoroutinefunction, sync_to_async


class APIView(AdrfAPIView):
    """adrf's async view, with DRF's ``initial()`` on the event loop.

    adrf runs ``initial()`` (content negotiation, authentication, permissions, throttles) through
    ``sync_to_async``: one thread hop per request. Here all of it is in-memory work: authentication
    reads what ``AuthenticationMiddleware`` resolved, permissions compare roles, there are no
    throttles (``apps.core.ratelimit`` limits before the view). So it runs inline; async handlers are
    awaited, sync ones still go to a thread. Every API view of the project derives from this one.
    """

    async def async_dispatch(self, request, *args, **kwargs):
        self.args, self.kwargs = args, kwargs
        request = self.initialize_request(request, *args, **kwargs)
        self.request = request
        self.headers = self.default_response_headers
        try:
            self.initial(request, *args, **kwargs)
            method = request.method.lower()
            handler = getattr(self, method, self.http_method_not_allowed)
            if method not in self.http_method_names:
                handler = self.http_method_not_allowed
            if iscoroutinefunction(handler):
                response = await handler(request, *args, **kwargs)
            else:
                response = await sync_to_async(handler)(request, *args, **kwargs)
        except Exception as exc:
            response = self.handle_exception(exc)
        self.response = self.finalize_response(request, response, *args, **kwargs)
        return self.response
