"""URL map: JSON API under /v1/, pages, and the operational endpoints."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.core import views as core_views
from apps.core.storage import local_object

handler404 = "apps.core.views.not_found"
handler500 = "apps.core.views.server_error"
handler400 = "apps.core.views.bad_request"

urlpatterns = [
    path("health", core_views.health, name="health"),
    path("ready", core_views.ready, name="ready"),
    path("metrics", core_views.metrics_view, name="metrics"),
    # Signed PUT/GET of local objects (evidence files, chat attachments) when S3 is not configured.
    path("storage/local/<path:key>", local_object, name="storage_local"),
    path("v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("v1/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    # The busiest prefix first (each route tried before costs a send, issue 14); no two includes match one path.
    path("v1/chat/", include("apps.chat.api_urls")),
    path("v1/auth/", include("apps.accounts.api_urls")),
    path("v1/admin/webhooks/", include("apps.webhooks.api_urls")),
    path("v1/", include("apps.evidence.api_urls")),
    path("v1/", include("apps.moderation.api_urls")),
    path("v1/transparency/", include("apps.transparency.urls")),
    path("admin/", include("apps.moderation.admin_urls")),
    path("", include("apps.accounts.page_urls")),
    path("", include("apps.evidence.page_urls")),
    path("", include("apps.chat.page_urls")),
]
