"""The PNG writer decoded by an independent reader: Qt's QImage (libpng), pixel for pixel.
The chunk CRCs are checked with zlib in tests/unit/imaging/test_png.py.  ``read_png``, which
the render tests use, is checked against QImage here too."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QImage

from pacsadmin.cli.main import main
from pacsadmin.core.imaging.png import encode_png, read_png
from tests.unit.imaging.conftest import sample
from tests.unit.imaging.test_png import IMAGES


def qimage_pixels(data: bytes) -> np.ndarray:
    """(h, w) for a gray PNG, (h, w, 3) for a colour one, as Qt decodes it."""
    image = QImage.fromData(data, "PNG")
    assert not image.isNull(), "Qt cannot read the PNG"
    w, h = image.width(), image.height()
    if image.format() == QImage.Format.Format_Grayscale8:
        channels = 1
    else:
        assert not image.hasAlphaChannel()
        image = image.convertToFormat(QImage.Format.Format_RGB888)
        channels = 3
    bits = bytes(image.constBits())  # a copy: the view dies with the QImage
    rows = np.frombuffer(bits, dtype=np.uint8).reshape(h, image.bytesPerLine())
    pixels = rows[:, : w * channels]
    return pixels.reshape(h, w) if channels == 1 else pixels.reshape(h, w, 3)


@pytest.mark.parametrize("name", IMAGES)
def test_qimage_reads_what_we_wrote(name):
    image = IMAGES[name]
    data = encode_png(image)
    decoded = qimage_pixels(data)
    assert decoded.shape == image.shape
    assert np.array_equal(decoded, image)
    assert np.array_equal(read_png(data)[3], decoded)


def test_qimage_reads_a_rendered_file(tmp_path):
    """`pacsadmin render` output (gray CT, colour frame) as Qt decodes it."""
    for name, args in (("CT_small.dcm", []), ("examples_ybr_color.dcm", ["--frame", "3"])):
        out = tmp_path / f"{name}.png"
        assert main(["render", sample(name), "-o", str(out), *args]) == 0
        data = out.read_bytes()
        decoded = qimage_pixels(data)
        assert decoded.shape[:2] in ((128, 128), (240, 320))
        assert np.array_equal(read_png(data)[3], decoded)
        assert decoded.std() > 10  # an image, not a flat field
