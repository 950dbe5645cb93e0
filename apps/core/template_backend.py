"""Django's template backend, with templates that leave no reference cycle behind (issue 14 point 2).

Every render builds a ``RequestContext`` whose ``ContextDict`` layers point back at it: about 40 objects of
cyclic garbage per page, which only a full collection frees, and never once the server has frozen them
(``apps.core.gc_tuning``: a page in flight at a re-freeze would leak). ``Template.render`` is Django 5.2's,
plus emptying the context's layers when the render ends; tests/core/test_no_cyclic_garbage.py fails if the
cycle comes back and tests/core/test_thread_hops.py on another Django version.
"""

from __future__ import annotations

from typing import Any

from django.template import TemplateDoesNotExist
from django.template.backends import django as django_backend
from django.template.context import make_context


class Template(django_backend.Template):
    def render(self, context: dict[str, Any] | None = None, request: Any = None) -> str:
        context = make_context(context, request, autoescape=self.backend.engine.autoescape)
        try:
            return self.template.render(context)
        except TemplateDoesNotExist as exc:
            django_backend.reraise(exc, self.backend)
        finally:
            context.dicts.clear()  # each layer (``ContextDict``) holds the context: the cycle


class DjangoTemplates(django_backend.DjangoTemplates):
    """``TEMPLATES``' backend: Django's, handing out the ``Template`` above."""

    def from_string(self, template_code: str) -> Template:
        return Template(self.engine.from_string(template_code), self)

    def get_template(self, template_name: str) -> Template:
        try:
            return Template(self.engine.get_template(template_name), self)
        except TemplateDoesNotExist as exc:
            django_backend.reraise(exc, self)
