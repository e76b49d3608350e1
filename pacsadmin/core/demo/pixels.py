"""Synthetic pixel data for the demo PACS: phantoms drawn with numpy, no downloads.

Every image is computed from a fixed seed, so two generations give the same pixels.  The
CT phantom holds realistic Hounsfield units (air -1000, lung -850, fat -100, water 0,
soft tissue +40..+60, cancellous bone +300, cortical bone +1000 and more), stored as
``HU + 1024`` (Rescale Intercept -1024, Rescale Slope 1).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

CT_INTERCEPT = -1024
U16 = NDArray[np.uint16]
U8 = NDArray[np.uint8]
F32 = NDArray[np.float32]


def _grid(rows: int, cols: int, spacing: float) -> tuple[F32, F32]:
    """Millimetre coordinates of the pixel centres, the origin in the middle."""
    y = (np.arange(rows, dtype=np.float32) - (rows - 1) / 2) * spacing
    x = (np.arange(cols, dtype=np.float32) - (cols - 1) / 2) * spacing
    yy, xx = np.meshgrid(y, x, indexing="ij")
    return yy, xx


def _ellipse(yy: F32, xx: F32, cy: float, cx: float, ry: float, rx: float) -> NDArray[np.bool_]:
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0


def _blur(img: F32, k: int) -> F32:
    """A separable box blur of width ``2k+1`` (twice: close to a Gaussian)."""
    out = img
    for _ in range(2):
        for axis in (0, 1):
            pad = [(0, 0), (0, 0)]
            pad[axis] = (k + 1, k)
            c = np.cumsum(np.pad(out, pad, mode="edge"), axis=axis, dtype=np.float64)
            if axis == 0:
                out = ((c[2 * k + 1 :] - c[: -2 * k - 1]) / (2 * k + 1)).astype(np.float32)
            else:
                out = ((c[:, 2 * k + 1 :] - c[:, : -2 * k - 1]) / (2 * k + 1)).astype(np.float32)
    return out


def ct_phantom(slices: int, size: int = 256, spacing: float = 0.9) -> list[U16]:
    """An abdomen-and-chest phantom, ``slices`` axial images from feet to head.

    Fat under the skin, water-filled body, a spine (cortical shell, cancellous core), a
    liver and an iodine vial low down, two lungs high up, noise of about 8 HU."""
    rng = np.random.default_rng(1001)
    yy, xx = _grid(size, size, spacing)
    body = _ellipse(yy, xx, 0, 0, 80, 105)
    inner = _ellipse(yy, xx, 0, 0, 72, 97)
    spine_out = _ellipse(yy, xx, 50, 0, 14, 14)
    spine_in = _ellipse(yy, xx, 50, 0, 9, 9)
    canal = _ellipse(yy, xx, 68, 0, 5, 6)
    liver = _ellipse(yy, xx, -10, -40, 35, 45)
    vial = _ellipse(yy, xx, -30, 45, 9, 9)
    lung_l = _ellipse(yy, xx, -5, -48, 45, 32)
    lung_r = _ellipse(yy, xx, -5, 48, 45, 32)
    ribs = body & ~_ellipse(yy, xx, 0, 0, 75, 100) & (np.cos(np.arctan2(yy, xx) * 14) > 0.6)
    out: list[U16] = []
    for i in range(slices):
        f = i / max(1, slices - 1)  # 0 at the feet, 1 at the head
        hu = np.full((size, size), -1000.0, dtype=np.float32)
        hu[body] = -100.0  # subcutaneous fat
        hu[inner] = 0.0  # water
        if f < 0.55:
            hu[liver] = 60.0
            hu[vial] = 250.0  # diluted iodine
        else:
            hu[inner & (lung_l | lung_r)] = -850.0
            hu[ribs] = 700.0
        hu[spine_out] = 1000.0  # cortical bone
        hu[spine_in] = 300.0  # cancellous bone
        hu[canal] = 20.0
        hu += rng.normal(0.0, 8.0, hu.shape).astype(np.float32)
        out.append(np.clip(np.rint(hu - CT_INTERCEPT), 0, 4095).astype(np.uint16))
    return out


def mr_head(slices: int, size: int = 256, spacing: float = 0.9) -> list[U16]:
    """A T2-like head: dark skull, grey and white matter, bright ventricles (CSF)."""
    rng = np.random.default_rng(2002)
    yy, xx = _grid(size, size, spacing)
    out: list[U16] = []
    for i in range(slices):
        f = i / max(1, slices - 1)
        s = float(np.sqrt(max(0.05, 1.0 - (2 * f - 1) ** 2)))  # the head narrows up and down
        img = np.zeros((size, size), dtype=np.float32)
        img[_ellipse(yy, xx, 0, 0, 95 * s, 78 * s)] = 350.0  # scalp
        img[_ellipse(yy, xx, 0, 0, 88 * s, 71 * s)] = 60.0  # skull
        img[_ellipse(yy, xx, 0, 0, 84 * s, 67 * s)] = 700.0  # grey matter
        img[_ellipse(yy, xx, 0, 0, 62 * s, 48 * s)] = 520.0  # white matter
        if 0.35 < f < 0.7:
            img[_ellipse(yy, xx, -8, -10, 22 * s, 6)] = 1500.0  # ventricles
            img[_ellipse(yy, xx, -8, 10, 22 * s, 6)] = 1500.0
        img = _blur(img, 1) + rng.normal(0.0, 15.0, img.shape).astype(np.float32)
        out.append(np.clip(img, 0, 4095).astype(np.uint16))
    return out


def chest_radiograph(rows: int = 1024, cols: int = 880) -> U16:
    """A PA chest: dark lungs, bright mediastinum and ribs, 12 bits (MONOCHROME2)."""
    rng = np.random.default_rng(3003)
    yy, xx = _grid(rows, cols, 0.4)
    img = np.full((rows, cols), 300.0, dtype=np.float32)
    img[_ellipse(yy, xx, 0, 0, 200, 170)] = 2600.0  # the body
    lungs = _ellipse(yy, xx, -20, -80, 140, 65) | _ellipse(yy, xx, -20, 80, 140, 65)
    img[lungs] = 900.0
    img[_ellipse(yy, xx, 40, 20, 70, 60)] = 2700.0  # the heart
    ang = np.abs(xx) / 170.0
    for k in range(9):  # ribs: arcs across each lung
        c = -150 + 32 * k + 25 * ang**2
        img[lungs & (np.abs(yy - c) < 5)] = 1900.0
    img[np.abs(xx) < 14] = 3000.0  # the spine behind the mediastinum
    img = _blur(img, 6) + rng.normal(0.0, 20.0, img.shape).astype(np.float32)
    return np.clip(img, 0, 4095).astype(np.uint16)


def hand_radiograph(rows: int = 768, cols: int = 640) -> U16:
    """A hand (DX): a palm, five fingers of phalanges, 12 bits (MONOCHROME2)."""
    rng = np.random.default_rng(4004)
    yy, xx = _grid(rows, cols, 0.3)
    img = np.full((rows, cols), 200.0, dtype=np.float32)
    img[_ellipse(yy, xx, 40, 0, 45, 40)] = 1200.0  # the palm
    for k, (x0, length) in enumerate(((-38, 55), (-18, 75), (0, 80), (18, 72), (40, 45))):
        y0 = -5 - length / 2 + (15 if k == 4 else 0)
        img[_ellipse(yy, xx, y0, x0, length / 2, 7)] = 1200.0  # soft tissue
        for j in range(3):  # phalanges
            cy = y0 - length / 2 + length * (j + 0.5) / 3
            img[_ellipse(yy, xx, cy, x0, length / 7, 3.5)] = 2800.0
    img = _blur(img, 3) + rng.normal(0.0, 15.0, img.shape).astype(np.float32)
    return np.clip(img, 0, 4095).astype(np.uint16)


def angiography(frames: int, size: int = 512) -> U8:
    """An XA run: a vessel tree filling with contrast, ``frames`` x size x size, 8 bits."""
    rng = np.random.default_rng(5005)
    yy, xx = _grid(size, size, 1.0)
    base = 170.0 + 20.0 * np.cos(xx / 90.0) * np.cos(yy / 120.0)
    dist = np.full((size, size), np.inf, dtype=np.float32)  # along the vessel, from the tip
    vessel = np.zeros((size, size), dtype=bool)
    for k, (ang, length) in enumerate(((0.0, 400), (0.5, 220), (-0.6, 200), (0.25, 150))):
        t = np.linspace(0, 1, 400, dtype=np.float32)
        y0 = -200.0 + (120.0 * k if k else 0.0)
        py = y0 + t * length * np.cos(ang)
        px = t * length * np.sin(ang) + 25 * np.sin(t * 6)
        for yv, xv, tv in zip(py[::4], px[::4], t[::4], strict=True):
            m = _ellipse(yy, xx, float(yv), float(xv), 5 - 2 * k / 3, 5 - 2 * k / 3)
            vessel |= m
            dist[m] = np.minimum(dist[m], (y0 + 200) + tv * length)
    out = np.empty((frames, size, size), dtype=np.uint8)
    for i in range(frames):
        front = 700.0 * (i + 1) / frames
        img = base.copy()
        img[vessel & (dist <= front)] = 50.0
        img += rng.normal(0.0, 4.0, img.shape)
        out[i] = np.clip(img, 0, 255).astype(np.uint8)
    return out


def ultrasound_rgb(rows: int = 480, cols: int = 640) -> U8:
    """A B-mode sector of speckle with a colour-Doppler box (red and blue flow), RGB."""
    rng = np.random.default_rng(6006)
    y = np.arange(rows, dtype=np.float32)[:, None]
    x = np.arange(cols, dtype=np.float32)[None, :] - cols / 2
    r = np.sqrt((y + 20) ** 2 + x**2)
    theta = np.arctan2(x, y + 20)
    sector = (np.abs(theta) < 0.75) & (r > 40) & (r < rows - 20)
    speckle = rng.rayleigh(40.0, (rows, cols)).astype(np.float32)
    gray = np.where(sector, np.clip(speckle * (1.2 - r / rows), 0, 255), 0.0)
    vessel = np.abs(r - 260 - 12 * np.sin(theta * 8)) < 14
    gray[vessel & sector] *= 0.15  # a vessel is dark in B-mode
    rgb = np.repeat(gray[:, :, None], 3, axis=2)
    box = sector & (np.abs(theta) < 0.35) & (r > 200) & (r < 320)
    flow = vessel & box
    towards = flow & (x < 0)
    rgb[towards] = (220, 30, 20)
    rgb[flow & ~towards] = (30, 60, 230)
    edge = box & ~(sector & (np.abs(theta) < 0.34) & (r > 202) & (r < 318))
    rgb[edge] = (200, 200, 200)
    out: U8 = np.clip(rgb, 0, 255).astype(np.uint8)
    return out
