"""The WebP renderer: lossless, so it decodes to exactly the PNG's pixels; and the one
conversion that also turns another renderer's PNG into WebP refuses what is not a PNG."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from renderer import render, render_webp, webp_from_png

IDENTIFIERS = ["dnmonster", "a", *(f"webp-test-{n}" for n in range(10))]


def pixels(image_bytes: bytes, image_format: str) -> bytes:
    with Image.open(io.BytesIO(image_bytes), formats=[image_format]) as image:
        return image.convert("RGBA").tobytes()


@pytest.mark.parametrize("size", [16, 20, 80, 90, 256, 512])
def test_it_decodes_to_exactly_the_pixels_of_the_png(size):
    for identifier in IDENTIFIERS:
        webp = render_webp(identifier, size)
        assert webp[:4] == b"RIFF" and webp[8:12] == b"WEBP"
        assert pixels(webp, "WEBP") == pixels(render(identifier, size), "PNG")


def test_the_same_identifier_and_size_give_the_same_bytes():
    assert render_webp("dnmonster", 256) == render_webp("dnmonster", 256)


def test_it_is_smaller_than_the_png_from_80_px_up():
    for size in (80, 256, 512):
        assert len(render_webp("dnmonster", size)) < len(render("dnmonster", size))


def _png_header_only(width: int, height: int) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    chunk = b"IHDR" + header
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(header))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
    )


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"GIF89a not a png",
        b"\x89PNG\r\n\x1a\n",  # the signature alone
        render("dnmonster", 80)[:100],  # cut short
        _png_header_only(50_000, 50_000),  # a tiny file that claims 2.5 gigapixels
    ],
    ids=["empty", "gif", "signature only", "truncated", "enormous canvas"],
)
def test_what_is_not_a_png_it_can_convert_is_refused(data):
    with pytest.raises(ValueError):
        webp_from_png(data)


def test_a_png_from_elsewhere_converts_with_its_pixels():
    picture = Image.new("RGBA", (33, 17), (10, 200, 30, 128))
    out = io.BytesIO()
    picture.save(out, "PNG")
    assert pixels(webp_from_png(out.getvalue()), "WEBP") == picture.tobytes()
