"""Bad uploads give a clear ImageError; odd-but-valid images decode to HWC uint8 RGB."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from core import images


def png_bytes(img: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def check_rgb(arr: np.ndarray, hw: tuple[int, int]) -> None:
    assert arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3
    assert arr.shape[:2] == hw


def test_not_an_image_is_refused_clearly():
    with pytest.raises(images.ImageError, match="not an image"):
        images.load_image(b"%PDF-1.4 this is a pdf, not a picture")


def test_empty_file_and_missing_input():
    with pytest.raises(images.ImageError, match="empty|No image"):
        images.load_image(b"")
    with pytest.raises(images.ImageError, match="No image"):
        images.load_image(None)


def test_tiny_image_is_refused_with_its_size():
    with pytest.raises(images.ImageError, match="1x1 pixels"):
        images.load_image(png_bytes(Image.new("RGB", (1, 1))))


def test_grayscale_becomes_three_equal_channels():
    g = Image.fromarray(np.tile(np.arange(64, dtype=np.uint8) * 4, (32, 1)), "L")
    arr = images.load_image(png_bytes(g))
    check_rgb(arr, (32, 64))
    assert (arr[..., 0] == arr[..., 1]).all() and arr[0, 10, 0] == 40


def test_rgba_is_composited_over_white():
    rgba = Image.new("RGBA", (40, 30), (255, 0, 0, 0))  # fully transparent red
    rgba.paste((0, 0, 255, 255), (0, 0, 20, 30))  # left half opaque blue
    arr = images.load_image(png_bytes(rgba))
    check_rgb(arr, (30, 40))
    assert tuple(arr[5, 5]) == (0, 0, 255) and tuple(arr[5, 35]) == (255, 255, 255)


def test_cmyk_jpeg_decodes_to_rgb():
    cmyk = Image.new("CMYK", (48, 32), (0, 255, 255, 0))  # pure red in CMYK
    arr = images.load_image(png_bytes(cmyk, "JPEG"))
    check_rgb(arr, (32, 48))
    assert arr[..., 0].mean() > 200 and arr[..., 1].mean() < 60


def test_16_bit_png_is_scaled_not_clipped():
    a16 = (np.linspace(0, 65535, 64 * 32).reshape(32, 64)).astype(np.uint16)
    data = png_bytes(Image.fromarray(a16))
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    arr = images.load_image(data)
    check_rgb(arr, (32, 64))
    assert arr.min() == 0 and arr.max() == 255  # the full 16-bit range maps onto 0..255


def test_decompression_bomb_is_refused_before_decoding():
    bomb = png_bytes(Image.new("1", (20000, 20000)))  # a few KB on disk, 400 MP when decoded
    assert len(bomb) < 1_000_000
    with pytest.raises(images.ImageError, match="400 megapixels"):
        images.load_image(bomb)


def test_oversized_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "MAX_UPLOAD_BYTES", 1000)
    p = tmp_path / "big.png"
    p.write_bytes(png_bytes(Image.new("RGB", (200, 200), (1, 2, 3))) + b"\0" * 2000)
    with pytest.raises(images.ImageError, match="limit"):
        images.load_image(p)


def test_truncated_file_is_refused():
    data = png_bytes(Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)))
    with pytest.raises(images.ImageError, match="damaged|truncated|not an image"):
        images.load_image(data[: len(data) // 2])


def test_big_image_is_shrunk_to_the_working_size():
    arr = images.load_image(png_bytes(Image.new("RGB", (3000, 1500), (9, 9, 9))))
    check_rgb(arr, (512, 1024))


def test_data_url_round_trip_is_exact():
    rgb = np.random.default_rng(1).integers(0, 256, (20, 30, 3), np.uint8)
    url = images.to_data_url(rgb)
    assert url.startswith("data:image/png;base64,")
    assert np.array_equal(images.from_data_url(url), rgb)
    assert np.array_equal(images.load_image(url), rgb)


def test_overlay_keeps_image_size_and_alpha_zero_is_identity():
    rgb = np.full((30, 40, 3), 100, np.uint8)
    heat = np.random.default_rng(2).random((7, 7)).astype(np.float32)
    assert np.array_equal(images.overlay(rgb, heat, 0.0), rgb)
    assert images.overlay(rgb, heat, 0.7).shape == rgb.shape


def test_upload_problem_reads_only_the_header(tmp_path):
    """What an upload box can refuse at once: not an image, too small, too many pixels (by its header)."""
    bad = tmp_path / "holiday.png"
    bad.write_text("not really a png")
    assert "not an image" in images.upload_problem(str(bad))
    Image.new("RGB", (8, 8)).save(tmp_path / "tiny.png")
    assert "at least" in images.upload_problem(str(tmp_path / "tiny.png"))
    Image.new("RGB", (64, 48)).save(tmp_path / "ok.png")
    assert images.upload_problem(str(tmp_path / "ok.png")) is None
    big = tmp_path / "big.png"
    Image.new("1", (9000, 6000)).save(big)  # 54 MP, a small file: refused from its header
    with pytest.warns(Image.DecompressionBombWarning):  # Pillow's own warning above 50 MP; ours is the message
        assert "pixels" in images.upload_problem(str(big))
