"""Product pictures: uploads in the real admin form (checks, storage, renditions), what
the pages and the API show, the designed fallback, and the seed's pictures."""

import io
import os
import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from dispatch.demo import PICTURES_DIR, seed_demo
from orders.models import Product

pytestmark = pytest.mark.django_db


def picture_bytes(size=(1000, 800), kind="PNG", colour=(230, 180, 40), noise=False) -> bytes:
    image = Image.new("RGB", size, colour)
    if noise:  # incompressible: a big file from few pixels
        image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    out = io.BytesIO()
    image.save(out, kind)
    return out.getvalue()


def upload(name="photo.png", data=None, content_type="image/png"):
    return SimpleUploadedFile(name, picture_bytes() if data is None else data, content_type=content_type)


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def change_form_data(product, **changes):
    data = {
        "category": product.category_id,
        "name": product.name,
        "slug": product.slug,
        "description": product.description,
        "unit": product.unit,
        "price": str(product.price),
        "stock": product.stock,
        "initial-stock": product.stock,
        "active": "on",
    }
    return data | changes


def post_picture(admin_client, product, picture):
    url = reverse("admin:orders_product_change", args=[product.pk])
    return admin_client.post(url, change_form_data(product, image=picture))


def opened(storage_file):
    with storage_file.storage.open(storage_file.name, "rb") as stored, Image.open(stored) as image:
        return image.format, image.size


# --- uploads through the admin --------------------------------------------------------------


def test_an_admin_uploads_a_picture_and_the_renditions_are_made_at_the_pages_sizes(admin_client, bananas):
    response = post_picture(admin_client, bananas, upload())

    assert response.status_code == 302, response.content.decode()[:2000]
    bananas.refresh_from_db()
    assert re.fullmatch(r"products/bananas-\d+-[0-9a-f]{8}\.png", bananas.image.name)
    assert opened(bananas.image) == ("PNG", (1000, 800))
    # Made when the picture was saved (the Optimistic strategy), not when a page asks.
    assert bananas.thumbnail.storage.exists(bananas.thumbnail.name)
    assert opened(bananas.thumbnail) == ("WEBP", (240, 192))
    assert opened(bananas.picture) == ("WEBP", (640, 512))


def test_the_change_page_previews_the_picture(admin_client, bananas):
    post_picture(admin_client, bananas, upload())
    bananas.refresh_from_db()
    page = admin_client.get(reverse("admin:orders_product_change", args=[bananas.pk])).content.decode()
    assert f'src="{bananas.picture.url}"' in page
    listing = admin_client.get(reverse("admin:orders_product_changelist")).content.decode()
    assert f'src="{bananas.thumbnail.url}"' in listing


def test_each_upload_gets_a_new_name_so_cached_urls_never_change_meaning(admin_client, bananas):
    post_picture(admin_client, bananas, upload())
    bananas.refresh_from_db()
    first = bananas.image.name
    post_picture(admin_client, bananas, upload(data=picture_bytes(colour=(10, 120, 60))))
    bananas.refresh_from_db()
    assert bananas.image.name != first and bananas.thumbnail.url != ""


def stored_files(product):
    """The picture and its two renditions, as storage names."""
    return [product.image.name, product.thumbnail.name, product.picture.name]


def test_a_replaced_picture_and_its_renditions_are_deleted_once_the_change_is_stored(
    admin_client, bananas, django_capture_on_commit_callbacks
):
    post_picture(admin_client, bananas, upload())
    bananas.refresh_from_db()
    old = stored_files(bananas)
    storage = bananas.image.storage
    assert all(storage.exists(name) for name in old)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        post_picture(admin_client, bananas, upload(data=picture_bytes(colour=(10, 120, 60))))

    assert callbacks, "deleted after commit, never before"
    bananas.refresh_from_db()
    assert not any(storage.exists(name) for name in old)
    assert all(storage.exists(name) for name in stored_files(bananas))


def test_deleting_a_product_deletes_its_picture_files(bananas, django_capture_on_commit_callbacks):
    bananas.image.save("p.png", upload(), save=True)
    names, storage = stored_files(bananas), bananas.image.storage
    assert all(storage.exists(name) for name in names)
    with django_capture_on_commit_callbacks(execute=True):
        bananas.delete()
    assert not any(storage.exists(name) for name in names)


def test_a_change_that_is_rolled_back_deletes_no_file(bananas):
    bananas.image.save("p.png", upload(), save=True)
    names, storage = stored_files(bananas), bananas.image.storage
    bananas.image = ""
    bananas.save()  # inside the test's transaction, never committed: no on-commit work runs
    assert all(storage.exists(name) for name in names)


@pytest.mark.parametrize(
    ("picture", "message"),
    [
        (upload("notes.png", b"this is not a picture at all", "image/png"), "Upload a valid image"),
        (upload("tiny.png", picture_bytes((120, 90))), "This picture is 120x90 px; it must be at least 200x200 px."),
        (upload("anim.gif", picture_bytes((300, 300), "GIF"), "image/gif"), "GIF pictures are not accepted"),
        (upload("huge.png", picture_bytes((6100, 300))), "it must be at most 6000 px a side"),
    ],
    ids=["not-an-image", "too-small", "gif", "too-wide"],
)
def test_a_bad_picture_is_refused_with_a_form_error_and_nothing_changes(admin_client, bananas, picture, message):
    response = post_picture(admin_client, bananas, picture)

    assert response.status_code == 200
    html = response.content.decode()
    assert "errorlist" in html and message in html.replace("&#x27;", "'")
    bananas.refresh_from_db()
    assert not bananas.image


def test_a_picture_over_the_size_limit_is_refused_with_a_form_error(admin_client, bananas, settings):
    settings.PRODUCT_IMAGE_MAX_MB = 1
    data = picture_bytes((700, 700), noise=True)  # ~1.4 MB of PNG
    assert len(data) > 1024 * 1024

    response = post_picture(admin_client, bananas, upload("big.png", data))

    assert response.status_code == 200
    assert "This file is 1.4 MB; the limit is 1 MB." in response.content.decode()
    bananas.refresh_from_db()
    assert not bananas.image


# --- pages and the API ----------------------------------------------------------------------


def with_picture(product):
    product.image.save("p.png", upload(), save=True)
    return product


def test_cards_show_the_thumbnail_and_products_without_one_the_designed_fallback(client, bananas, milk):
    with_picture(bananas)
    html = client.get(reverse("orders:catalog")).content.decode()
    assert f'src="{bananas.thumbnail.url}"' in html
    assert html.count("img/product-fallback") == 1  # milk, which has none; never a letter
    assert f'href="{reverse("orders:product", args=[bananas.slug])}"' in html


def test_the_api_gives_absolute_picture_urls_or_null(api, bananas, milk):
    with_picture(bananas)
    products = {p["slug"]: p for p in api().get("/api/products/").json()["results"]}
    assert products[bananas.slug]["image"] == f"http://testserver{bananas.image.url}"
    assert products[bananas.slug]["thumbnail"] == f"http://testserver{bananas.thumbnail.url}"
    assert products[milk.slug]["image"] is None and products[milk.slug]["thumbnail"] is None


def test_the_product_page_shows_everything_about_the_product(
    client, make_product, bananas, milk, django_assert_max_num_queries
):
    with_picture(bananas)
    bananas.description = "Ripe Cavendish bananas."
    bananas.save()
    make_product("Apples")
    out = make_product("Old pears", stock=0)

    with django_assert_max_num_queries(3):
        response = client.get(reverse("orders:product", args=[bananas.slug]))

    html = response.content.decode()
    assert response.status_code == 200
    assert f'src="{bananas.picture.url}" alt="Bananas"' in html
    for text in ("Bananas", "6 pcs", "$1.49", "Ripe Cavendish bananas.", "Only 3 left", "Log in to order"):
        assert text in html
    related = html.split('id="related-heading"', 1)[1]
    assert "Apples" in related and "Old pears" in related and "Whole Milk" not in related  # same category only
    assert related.index("Apples") < related.index("Old pears")  # in stock first
    assert f'id="product-{bananas.slug}"' not in related and out.slug in related


@pytest.mark.parametrize("slug", ["no-such-thing", "retired"])
def test_an_unknown_or_retired_product_is_a_404(client, make_product, slug):
    make_product("Retired", slug="retired", active=False)
    assert client.get(reverse("orders:product", args=[slug])).status_code == 404


def test_adding_from_the_product_page_without_javascript_comes_back_to_it(customer_client, bananas):
    page = reverse("orders:product", args=[bananas.slug])
    data = {"product": bananas.pk, "quantity": 1, "next": page}

    response = customer_client.post(reverse("orders:cart-add"), data)

    assert response.status_code == 302 and response["Location"] == page
    html = customer_client.get(page).content.decode()
    assert 'aria-label="One more Bananas"' in html and 'class="stepper-n">1<' in html


def test_adding_from_the_product_page_with_htmx_swaps_its_buy_box_and_the_badge(customer_client, bananas):
    page = reverse("orders:product", args=[bananas.slug])
    data = {"product": bananas.pk, "quantity": 1, "next": page}

    response = customer_client.post(reverse("orders:cart-add"), data, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="buy-box")

    html = response.content.decode()
    assert html.strip().startswith('<div id="buy-box"') and 'hx-target="#buy-box"' in html
    assert 'id="cart-badge"' in html and 'hx-swap-oob="true"' in html


def test_a_refused_add_without_javascript_shows_the_product_page_with_the_error(customer_client, bananas):
    page = reverse("orders:product", args=[bananas.slug])
    Product.objects.filter(pk=bananas.pk).update(stock=0)  # sold out while the page was open

    response = customer_client.post(reverse("orders:cart-add"), {"product": bananas.pk, "quantity": 1, "next": page})

    assert response.status_code == 409
    html = response.content.decode()
    assert '<h1 class="product-page-name">Bananas</h1>' in html and "Out of stock" in html
    assert 'class="flash flash-error"' in html


def test_the_header_promises_the_configured_delivery_time(client, settings, bananas):
    settings.DELIVERY_PROMISE_MINUTES = 7
    assert "Delivery in about 7 min" in client.get(reverse("orders:catalog")).content.decode()


def test_the_mini_cart_summarises_the_cart_for_its_customer_only(customer_client, client, partner, bananas, milk):
    customer_client.post(reverse("orders:cart-add"), {"product": milk.pk, "quantity": 2})
    url = reverse("orders:mini-cart")

    html = customer_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "Whole Milk" in html and "\N{MULTIPLICATION SIGN} 2" in html
    assert "$2.40" in html and "Subtotal (2 items)" in html
    assert customer_client.get(url)["Location"] == reverse("orders:cart")  # no htmx: the cart page
    customer_client.logout()
    client.force_login(partner)
    assert client.get(url, HTTP_HX_REQUEST="true").status_code == 403


# --- the seed -----------------------------------------------------------------------------


def test_the_seed_gives_every_product_its_picture_once_and_a_reset_removes_the_old_files(
    django_capture_on_commit_callbacks,
):
    seed_demo()
    products = list(Product.objects.all())
    assert products and all(product.image for product in products)
    assert all(opened(product.thumbnail)[0] == "WEBP" for product in products)
    first = products[0]
    old_file = Path(first.image.path)
    assert old_file.exists()

    assert seed_demo()["pictures_added"] == 0  # a second run changes nothing

    with django_capture_on_commit_callbacks(execute=True):
        seed_demo(reset=True)
    assert not old_file.exists()  # deleted once the wipe was stored
    assert all(product.image for product in Product.objects.all())


def test_every_seed_picture_is_a_small_webp_with_its_license():
    license_text = (PICTURES_DIR / "LICENSE").read_text()
    assert "MIT License" in license_text and "Microsoft" in license_text
    pictures = sorted(PICTURES_DIR.glob("*.webp"))
    assert len(pictures) >= 40
    for path in pictures:
        with Image.open(path) as image:
            assert image.format == "WEBP" and image.size == (320, 320)
