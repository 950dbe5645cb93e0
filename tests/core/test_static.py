"""The one-process server serves the pages' static files itself."""

import httpx


def test_static_css_is_served_by_the_running_server(live_server_factory):
    server = live_server_factory()
    response = httpx.get(f"{server.url}/static/css/site.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert "site-header" in response.text
    assert httpx.get(f"{server.url}/static/css/nothing.css").status_code == 404
