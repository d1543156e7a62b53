"""Product pictures: what an upload must be, where it is stored, and the renditions the
pages show.

The renditions are django-imagekit specs: files made with Pillow when a picture is saved
(the Optimistic strategy, settings.IMAGEKIT_DEFAULT_CACHEFILE_STRATEGY), named from the
source and the spec, kept in the same storage as the picture. No table, so the same on
SQLite and MongoDB, and a page never asks the storage whether a file exists (one request
per picture on S3). ``manage.py generateimages`` remakes them after a spec changes.
"""

import secrets
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from imagekit import ImageSpec
from imagekit.cachefiles import ImageCacheFile
from imagekit.processors import ResizeToFit, Transpose
from PIL import Image, UnidentifiedImageError

# Formats a browser shows everywhere, as Pillow names them, with the name people know.
FORMATS = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP"}
MIN_SIDE = 200  # px: smaller looks blurred on the product page
MAX_SIDE = 6000  # px: bigger is a camera original that nobody needs (and a decompression-bomb guard)
PRODUCT_IMAGE_HELP = (
    f"JPEG, PNG or WebP, at least {MIN_SIDE}x{MIN_SIDE} px, at most {MAX_SIDE} px a side and "
    f"{settings.PRODUCT_IMAGE_MAX_MB} MB. Square pictures on a plain or transparent background look best."
)


class Thumbnail(ImageSpec):
    """Catalog cards, the cart and the mini-cart: up to 120 CSS px, sharp at 2x."""

    processors = [Transpose(), ResizeToFit(240, 240, upscale=False)]
    format = "WEBP"
    options = {"quality": 82}


class Picture(ImageSpec):
    """The product page: up to 320 CSS px, sharp at 2x."""

    processors = [Transpose(), ResizeToFit(640, 640, upscale=False)]
    format = "WEBP"
    options = {"quality": 85}


def product_image_path(product, filename: str) -> str:
    """``products/<slug>-<random>.<ext>``: readable, and new for every upload, so a URL's
    bytes never change and caches may keep them for a year (deploy/nginx.conf)."""
    suffix = PurePath(filename).suffix.lower()
    return f"products/{product.slug or 'product'}-{secrets.token_hex(4)}{suffix}"


def validate_product_image(file) -> None:
    """A new upload must be a JPEG, PNG or WebP within the size and pixel limits (a
    picture already stored is not opened again)."""
    if getattr(file, "_committed", True):
        return
    limit = settings.PRODUCT_IMAGE_MAX_MB * 1024 * 1024
    if file.size > limit:
        raise ValidationError(
            f"This file is {file.size / 1024 / 1024:.1f} MB; the limit is {settings.PRODUCT_IMAGE_MAX_MB} MB.",
            code="file_too_big",
        )
    position = file.tell()
    try:
        file.seek(0)
        with Image.open(file) as image:
            kind, (width, height) = image.format, image.size
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise ValidationError("This file is not a picture we can read.", code="invalid_image") from None
    finally:
        file.seek(position)
    if kind not in FORMATS:
        raise ValidationError(f"{kind} pictures are not accepted: use JPEG, PNG or WebP.", code="image_format")
    if min(width, height) < MIN_SIDE:
        raise ValidationError(
            f"This picture is {width}x{height} px; it must be at least {MIN_SIDE}x{MIN_SIDE} px.", code="image_small"
        )
    if max(width, height) > MAX_SIDE:
        raise ValidationError(
            f"This picture is {width}x{height} px; it must be at most {MAX_SIDE} px a side.", code="image_large"
        )


def delete_renditions(sender, file, field_name, **kwargs) -> None:
    """django-cleanup deletes a replaced or deleted picture once the change is committed
    (``cleanup_pre_delete``); its renditions go with it. Their names come from the
    picture's name and the spec, as when they were made."""
    if field_name != "image":
        return
    for spec in (Thumbnail, Picture):
        rendition = ImageCacheFile(spec(source=file))
        rendition.storage.delete(rendition.name)
