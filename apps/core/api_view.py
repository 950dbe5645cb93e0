"""The project's API view base (a module of its own: DRF reads the parser setting, which names
``apps.core.api.StrictJSONParser``, while the view class is being defined)."""

from __future__ import annotations

from adrf.views import APIView as AdrfAPIView
from asgiref.sync import iscoroutinefunction, sync_to_async
from django.http import HttpResponseBase
from django.template.response import SimpleTemplateResponse
from rest_framework import exceptions
from rest_framework.request import Request


class APIView(AdrfAPIView):
    """adrf's async view, with DRF's ``initial()`` on the event loop, that leaves no reference cycle behind.

    adrf runs ``initial()`` (content negotiation, authentication, permissions, throttles) through
    ``sync_to_async``: one thread hop per request. Here all of it is in-memory work: authentication
    reads what ``AuthenticationMiddleware`` resolved, permissions compare roles, there are no
    throttles (``apps.core.ratelimit`` limits before the view). So it runs inline; async handlers are
    awaited, sync ones still go to a thread. Every API view of the project derives from this one.

    The view, its request and its response are freed by reference counting when the request ends
    (``_release``), so a request leaves no cyclic garbage: the server can freeze the collector's old
    generation without leaking requests that were in flight (``apps.core.gc_tuning``, issue 14).
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
        response = self.finalize_response(request, response, *args, **kwargs)
        self._release(request, response)
        return response

    async def http_method_not_allowed(self, request: Request, *args, **kwargs):
        """DRF's 405, raised on the event loop: raised in ``sync_to_async``'s thread, the error's traceback
        holds asgiref's frames, which hold the error: a reference cycle per refused request."""
        raise exceptions.MethodNotAllowed(request.method)

    def _release(self, request: Request, response: HttpResponseBase) -> None:
        """Cut the references DRF and Django leave pointing back at this view, its request and its response.

        Each is a reference cycle, which only a full collection frees (and never, once frozen):
        - ``request.parser_context`` holds the view and the request itself; the body is parsed by now;
        - Django's ``View.setup`` sets ``self.head = self.get``, a bound method of the view on the view;
        - DRF's ``Response`` keeps ``renderer_context`` (view, request, and the response itself once rendered)
          until Django's handler renders it; it is rendered here instead (the same bytes: JSON rendering
          needs nothing from the middleware that runs after the view) and the context is dropped.
        DRF's ``dispatch`` also keeps ``self.response``; this one does not.
        """
        request.parser_context = None
        vars(self).pop("head", None)
        if isinstance(response, SimpleTemplateResponse) and hasattr(response, "renderer_context"):
            response.render()
            response.renderer_context = None
