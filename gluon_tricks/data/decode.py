"""Decoding encoded images, whole (OpenCV) or only a crop's region (the ``_jpeg`` extension)."""
import numpy as np

from ..notice import notice
from .augment import random_resized_crop_box

def whole_bgr(buf):
    """JPEG/PNG/... bytes -> HxWx3 uint8 in OpenCV's BGR order (grayscale, CMYK and alpha
    converted); None if undecodable. The pipeline stays in BGR up to normalisation, which
    writes the planes in RGB order: no extra pass to swap channels."""
    import cv2
    return cv2.imdecode(np.frombuffer(buf, np.uint8), cv2.IMREAD_COLOR)


try:
    from . import _jpeg  # built from _jpeg.c when libjpeg-turbo's headers were there at install
except ImportError:
    _jpeg = None


def check_region_decoder():
    """Keep ``_jpeg`` only if it decodes in this process. A library loaded with global symbols
    can shadow libjpeg's (importing horovod.mxnet does: MXNet's own copy answers "Wrong JPEG
    library version"); then every JPEG would fall back to a whole decode one by one, so say it
    once and decode whole images from the start."""
    global _jpeg
    if _jpeg is None:
        return False
    import cv2
    probe = cv2.imencode(".jpg", np.zeros((16, 24, 3), np.uint8))[1].tobytes()
    if _jpeg.size(probe) != (16, 24):
        notice("region decoding of JPEGs does not work in this process (another libjpeg is loaded with "
               "global symbols, e.g. by horovod.mxnet); decoding whole images, which is slower")
        _jpeg = None
    return _jpeg is not None


def crop_bgr(buf, augment, rng):
    """Encoded bytes -> the random-resized-crop region (BGR uint8), or None if undecodable.

    With the ``_jpeg`` extension a JPEG is decoded only as far as the crop needs (see _jpeg.c);
    otherwise, and for other formats or CMYK JPEGs, OpenCV decodes it whole and it is sliced. The
    box is drawn from the same numbers either way, and the pixels are the same (tested)."""
    size = _jpeg.size(buf) if _jpeg is not None else None
    if size is not None:
        y, x, h, w = random_resized_crop_box(rng, size[0], size[1], augment.area, augment.ratio)
        got = _jpeg.region(buf, y, x, h, w)
        if got is not None:
            pixels, stride, dx = got
            return np.frombuffer(pixels, np.uint8)[:h * stride * 3].reshape(h, stride, 3)[:, dx:dx + w]
    img = whole_bgr(buf)
    if img is None:
        return None
    if size is None or size != img.shape[:2]:
        y, x, h, w = random_resized_crop_box(rng, img.shape[0], img.shape[1], augment.area, augment.ratio)
    return img[y:y + h, x:x + w]
