import pytest

from quickcommerce.testing import free_port


@pytest.mark.django_db
def test_healthz_ok_on_the_embedded_defaults(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "store": "sqlite", "channel_layer": "memory"}


@pytest.mark.django_db
def test_healthz_503_names_an_unreachable_channel_layer(client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["channel_layer"]


@pytest.mark.django_db
def test_healthz_ok_with_a_real_redis(client, settings, redis_server):
    settings.REDIS_URL = redis_server.url
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["channel_layer"] == "redis"


@pytest.mark.django_db
def test_favicon_ico_points_at_the_sites_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response.url.endswith("/favicon.svg")
    page = client.get("/").content.decode()
    assert 'rel="icon"' in page and "favicon.svg" in page
