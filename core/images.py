"""Safe image decoding and the small image utilities every demo shares.

Every decoded image leaves here as HWC uint8 RGB in [0, 255]. Decoding is guarded:
the file size is capped before reading, the pixel count is read from the header and
capped before any pixel is decoded, and odd modes (RGBA, CMYK, 16-bit, palette,
grayscale) are converted with a rule a learner can predict.
"""

from __future__ import annotations

import base64
import io
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import UserError

MAX_UPLOAD_MB = float(os.environ.get("GLASSBOX_MAX_UPLOAD_MB", "20"))
MAX_UPLOAD_BYTES = int(MAX_UPLOAD_MB * 1024 * 1024)
MAX_PIXELS = int(os.environ.get("GLASSBOX_MAX_PIXELS", str(50_000_000)))  # a 50 MP photo still passes
MIN_SIDE = 16
# Demos never need more than this: decode big photos, then shrink once, so later
# steps (hashing, resizing, PNG export) stay cheap.
WORK_SIDE = 1024

# Pillow's own bomb guard raises a warning at MAX_IMAGE_PIXELS and an error at twice it;
# ours is checked first with a clearer message, this is the second line of defence.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


class ImageError(UserError):
    """A bad upload. The message is shown to the user as is, so it says what to do."""


def _read_source(src: Any) -> bytes | Image.Image:
    """Bytes (or an already-decoded PIL image) from a path, bytes, data URL or gradio FileData dict."""
    if isinstance(src, Image.Image):
        return src
    if isinstance(src, dict):  # gradio FileData as a plain dict
        src = src.get("path") or src.get("url")
    if src is None or (isinstance(src, (str, bytes)) and len(src) == 0):
        raise ImageError("No image was given. Upload a PNG or JPEG, or pick a sample.")
    if isinstance(src, (bytes, bytearray)):
        data = bytes(src)
    elif isinstance(src, str) and src.startswith("data:"):
        head, _, payload = src.partition(",")
        if ";base64" not in head:
            raise ImageError("Data URLs must be base64 encoded (data:image/png;base64,...).")
        if len(payload) * 3 // 4 > MAX_UPLOAD_BYTES:
            raise ImageError(f"The image is larger than the {MAX_UPLOAD_MB:g} MB upload limit.")
        try:
            data = base64.b64decode(payload, validate=False)
        except ValueError as exc:
            raise ImageError("The data URL is not valid base64.") from exc
    else:
        path = Path(src)
        if not path.is_file():
            raise ImageError(f"No file at {path.name!r}.")
        size = path.stat().st_size
        if size > MAX_UPLOAD_BYTES:
            raise ImageError(f"The file is {size / 2**20:.1f} MB; the limit is {MAX_UPLOAD_MB:g} MB.")
        data = path.read_bytes()
    if len(data) == 0:
        raise ImageError("The file is empty. Upload a PNG or JPEG image.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageError(f"The image is larger than the {MAX_UPLOAD_MB:g} MB upload limit.")
    return data


def _to_rgb(img: Image.Image) -> np.ndarray:
    """Any Pillow mode -> HWC uint8 RGB. Transparency is laid over white, as a viewer shows it."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img, dtype=np.float64)  # (H, W)
        # 16-bit files use 0..65535; an "I" image that only holds 8-bit values stays as is.
        scale = 257.0 if arr.max(initial=0) > 255 else 1.0
        gray = np.clip(arr / scale, 0, 255).round().astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
        gray = np.zeros_like(arr) if hi <= lo else (arr - lo) / (hi - lo) * 255
        gray = np.nan_to_num(gray).round().astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    return np.asarray(img.convert("RGB"))  # L, 1, P, CMYK, YCbCr, LAB, HSV, RGB


def load_image(src: Any, *, max_side: int = WORK_SIDE) -> np.ndarray:
    """Decode an upload safely. Returns HWC uint8 RGB in [0, 255], longest side <= max_side.

    src: a file path, raw bytes, a data URL, a gradio FileData dict, a PIL image, or an
    HWC/HW numpy array. Raises ImageError with a message fit for the user.
    """
    return load_image_sized(src, max_side=max_side)[0]


def load_image_sized(src: Any, *, max_side: int = WORK_SIDE) -> tuple[np.ndarray, tuple[int, int]]:
    """load_image, and the (height, width) the upload had before it was shrunk: for coordinates a caller
    gives in the uploaded image's pixels."""
    if isinstance(src, np.ndarray):
        img = _from_array(src)
    else:
        raw = _read_source(src)
        if isinstance(raw, Image.Image):
            img = raw
            if img.size[0] * img.size[1] > MAX_PIXELS:  # handed in already open: no header was checked
                raise ImageError(_too_many_pixels_message(img.size))
        else:
            img = _open_header(raw)  # the header is parsed, no pixel decoded yet: refused before load()
        w, h = img.size
        header_wh = (w, h)
        if isinstance(raw, bytes) and img.format == "JPEG" and max(w, h) > 2 * max_side:
            img.draft("RGB", (max_side, max_side))  # decode JPEGs at reduced scale: much faster
        try:
            img.load()
            img = ImageOps.exif_transpose(img)
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageError(f"The image file is damaged or truncated ({exc}).") from exc
        except Image.DecompressionBombError as exc:
            raise ImageError(_too_many_pixels_message(img.size)) from exc
        if (img.size[0] >= img.size[1]) != (header_wh[0] >= header_wh[1]):  # EXIF turned it a quarter
            header_wh = header_wh[::-1]
    w, h = img.size
    original_hw = (header_wh[1], header_wh[0]) if not isinstance(src, np.ndarray) else (h, w)
    _check_min_side(w, h)
    if max(w, h) > max_side:
        scale = max_side / max(w, h)
        img = img.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS)
    return np.ascontiguousarray(_to_rgb(img)), original_hw


def _open_header(raw: bytes) -> Image.Image:
    """The image with only its header parsed (no pixel decoded), refused when it is not an image or its pixel
    count is over the cap: the checks that need no decoding."""
    try:
        img = Image.open(io.BytesIO(raw))
    except UnidentifiedImageError as exc:
        raise ImageError("That file is not an image Glassbox can read. Upload a PNG or JPEG.") from exc
    except Image.DecompressionBombError as exc:
        # Pillow's own guard fired while parsing the header (far over our cap).
        raise ImageError(_too_many_pixels_message(None, str(exc))) from exc
    if img.size[0] * img.size[1] > MAX_PIXELS:
        raise ImageError(_too_many_pixels_message(img.size))
    return img


def _check_min_side(w: int, h: int) -> None:
    if min(w, h) < MIN_SIDE:
        raise ImageError(f"The image is {w}x{h} pixels; it needs to be at least {MIN_SIDE}x{MIN_SIDE}.")


def upload_problem(src: Any) -> str | None:
    """Why an upload cannot be used, from its size and header alone (no pixel decoded), or None when it looks
    usable: an upload box can drop a file it would only refuse later. Decoding may still find damage."""
    try:
        raw = _read_source(src)
        if not isinstance(raw, Image.Image):
            _check_min_side(*_open_header(raw).size)
    except ImageError as exc:
        return str(exc)
    return None


def _from_array(arr: np.ndarray) -> Image.Image:
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise ImageError(f"Expected an HxWx3 image array, got shape {arr.shape}.")
    if arr.shape[0] * arr.shape[1] > MAX_PIXELS:
        raise ImageError(_too_many_pixels_message((arr.shape[1], arr.shape[0])))
    if arr.dtype != np.uint8:
        a = arr.astype(np.float64)
        a = a * 255 if a.max(initial=0) <= 1.0 else a
        arr = np.clip(a, 0, 255).round().astype(np.uint8)
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    return Image.fromarray(arr)


def _too_many_pixels_message(size: tuple[int, int] | None, pillow_msg: str = "") -> str:
    if size:
        dims = f"{size[0]}x{size[1]} pixels ({size[0] * size[1] / 1e6:g} megapixels)"
    else:
        found = re.search(r"\((\d+) pixels\)", pillow_msg)
        dims = f"{int(found.group(1)) / 1e6:g} megapixels" if found else "too many pixels"
    return f"The image has {dims}; the limit is {MAX_PIXELS / 1e6:g} megapixels. Resize it and try again."


def to_png_bytes(arr: np.ndarray) -> bytes:
    """HWC uint8 (or HW) -> PNG bytes."""
    buf = io.BytesIO()
    Image.fromarray(np.asarray(arr, dtype=np.uint8)).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def to_data_url(arr: np.ndarray) -> str:
    """HWC uint8 -> 'data:image/png;base64,...' (what every API endpoint returns for images)."""
    return "data:image/png;base64," + base64.b64encode(to_png_bytes(arr)).decode("ascii")


def from_data_url(url: str) -> np.ndarray:
    """The inverse of to_data_url, exact for PNG (used by tests and notebooks)."""
    head, _, payload = url.partition(",")
    if not head.startswith("data:image/") or ";base64" not in head:
        raise ImageError("Not a base64 image data URL.")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(payload))))


def resize_float(a: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a float HW map to (H, W) using Pillow's 32-bit float mode."""
    h, w = size_hw
    img = Image.fromarray(np.asarray(a, dtype=np.float32), mode="F")
    return np.asarray(img.resize((w, h), Image.Resampling.BILINEAR), dtype=np.float32)


def fit_within(size_hw: tuple[int, int], longest: int) -> tuple[int, int]:
    """(H, W) scaled so the longer side is at most `longest`, aspect ratio kept (never upscales)."""
    h, w = size_hw
    s = min(1.0, longest / max(h, w))
    return max(1, round(h * s)), max(1, round(w * s))


_LUT: np.ndarray | None = None


def colormap_lut() -> np.ndarray:
    """(256, 3) uint8 LUT of 'viridis': dark purple = cold, yellow = hot.

    Not the 'jet' of the Grad-CAM papers: jet's red and green look alike to about one man in twelve, and its
    bright cyan and yellow bands draw edges that are not in the data. Viridis reads the same in greyscale,
    to colour-blind eyes and on a washed-out projector."""
    global _LUT
    if _LUT is None:
        from matplotlib import colormaps  # lazy: matplotlib costs ~0.3 s to import

        _LUT = (colormaps["viridis"](np.linspace(0, 1, 256))[:, :3] * 255).round().astype(np.uint8)
    return _LUT


def colorize(heat: np.ndarray) -> np.ndarray:
    """HW float in [0, 1] -> HWC uint8 coloured with the LUT."""
    idx = np.clip(np.nan_to_num(heat) * 255, 0, 255).astype(np.uint8)
    return colormap_lut()[idx]


def overlay(rgb: np.ndarray, heat: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Blend a [0, 1] heatmap (any size; resized to the image) over an HWC uint8 image."""
    alpha = float(np.clip(alpha, 0.0, 1.0))
    h, w = rgb.shape[:2]
    if heat.shape != (h, w):
        heat = resize_float(heat, (h, w))
    mixed = (1 - alpha) * rgb.astype(np.float32) + alpha * colorize(heat).astype(np.float32)
    return np.clip(mixed, 0, 255).round().astype(np.uint8)


def enlarge(img: np.ndarray, side: int = 256) -> np.ndarray:
    """Nearest-neighbour enlargement by a whole factor (longest side at most `side`, at least x1), so
    each model pixel stays a crisp square on a projector. (H, W) or (H, W, C) in, same dtype out."""
    k = max(1, side // max(img.shape[:2]))
    return np.repeat(np.repeat(img, k, axis=0), k, axis=1)


# --- sheets for slides ----------------------------------------------------------------------------------

SLIDE_WIDTH = 1600  # an export meant for a slide is at least this wide...
SLIDE_TEXT = 28  # ...and its text this many pixels tall (a projected 1600-pixel slide still reads at 24)


def slide_font(size: int = SLIDE_TEXT):
    """A TrueType font at `size` pixels: Pillow's own (bundled with Pillow, so the same on every machine)."""
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def wrap_text(text: str, font, width: int) -> list[str]:
    """Words of text in lines no wider than width pixels (a word longer than that gets a line of its own)."""
    lines: list[str] = []
    for word in text.split():
        if lines and font.getlength(f"{lines[-1]} {word}") <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines or [""]


def captioned_row(panels: list[tuple[str, np.ndarray]], width: int = SLIDE_WIDTH, gap: int = 16) -> np.ndarray:
    """Pictures side by side, scaled to one height so the row is `width` pixels wide, each under its caption in
    slide-sized text (wrapped to the picture's width). HWC uint8, white background."""
    from PIL import ImageDraw

    font = slide_font()
    ratios = [arr.shape[1] / arr.shape[0] for _, arr in panels]
    height = int((width - gap * (len(panels) - 1)) / sum(ratios))
    widths = [int(round(height * r)) for r in ratios]
    widths[-1] = max(1, width - gap * (len(panels) - 1) - sum(widths[:-1]))  # rounding: the row is exactly width
    lines = [wrap_text(caption, font, w) for (caption, _), w in zip(panels, widths)]
    line_h = int(SLIDE_TEXT * 1.3)
    band = line_h * max(len(ls) for ls in lines) + 12
    sheet = Image.new("RGB", (width, band + height), "white")
    draw = ImageDraw.Draw(sheet)
    x = 0
    for (_, arr), w, ls in zip(panels, widths, lines):
        sheet.paste(Image.fromarray(arr).resize((w, height), Image.Resampling.LANCZOS), (x, band))
        for k, line in enumerate(ls):
            draw.text((x + 4, 6 + k * line_h), line, fill="black", font=font)
        x += w + gap
    return np.asarray(sheet)
