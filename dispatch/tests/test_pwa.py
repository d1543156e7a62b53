"""The installable board's files, as the browser fetches them (the browser test checks that
Chromium accepts them: quickcommerce/tests/test_installable.py)."""

import json

import pytest
from django.contrib.staticfiles import finders
from PIL import Image

pytestmark = pytest.mark.django_db


def test_the_manifest_names_the_board_standalone_with_icons_at_the_sizes_browsers_need(client):
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    manifest = json.loads(response.content)
    assert manifest["start_url"] == "/partner/"
    assert manifest["display"] == "standalone"
    assert manifest["name"] and manifest["short_name"]
    assert manifest["theme_color"] == "#0b7a4b"
    sizes = {}
    for icon in manifest["icons"]:
        assert icon["src"].startswith("/static/icons/")
        path = finders.find(icon["src"].removeprefix("/static/"))
        with Image.open(path) as image:
            assert f"{image.width}x{image.height}" == icon["sizes"]
            assert image.format == "PNG"
        sizes.setdefault(icon["purpose"], set()).add(icon["sizes"])
    assert sizes == {"any": {"192x192", "512x512"}, "maskable": {"192x192", "512x512"}}


def test_the_service_worker_is_served_at_the_root_for_the_whole_site(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == "/"
    assert "no-cache" in response["Cache-Control"]
    body = response.content.decode()
    assert '"/static/css/app.css"' in body and '"/offline/"' in body
    assert "&quot;" not in body  # not HTML-escaped


def test_the_offline_page_needs_no_login(client):
    response = client.get("/offline/")
    assert response.status_code == 200
    assert "You are offline" in response.content.decode()


def test_the_board_links_the_manifest(client, partner):
    client.force_login(partner)
    page = client.get("/partner/").content.decode()
    assert '<link rel="manifest" href="/manifest.webmanifest">' in page
    assert "js/board-app.js" in page
