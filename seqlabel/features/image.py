"""Line images (offline handwriting) as frame sequences.

    image file (PNG/JPEG/TIFF/BMP, any mode) -> grey (H0, W0) in [0, 1], 1 = white
      -> ink (H0, W0) in [0, 1], ink = 1, paper = 0 (``ink``: dark, light or auto)
      -> scaled to ``height`` rows, the width in proportion: (height, W) (``normalize: centre``: the
         band around the text's centre line, straightened, is scaled instead; see line_norm)
      -> [train only: augmentation, see seqlabel.augment.image] -> [Otsu binarisation]
      -> ``pad`` blank columns at both ends -> frames (T, height * window), left to right

Frame t holds columns t * stride .. t * stride + window - 1, each column's ``height`` pixels
top to bottom, column after column. With window = stride = 1 a frame is one pixel column and
the feature matrix is the transposed image.

With augmentation on, the scaled ink image of every line extracted is kept in memory (read-only,
up to ``IMAGE_CACHE_BYTES``), so that each epoch's altered copy starts from it instead of reading
and decoding the file again. DataLoader workers inherit it from the process that extracted the
features (unless ``features.cache_dir`` served them from disk: then each worker reads the files).
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import numpy as np
import torch

from seqlabel.config import FeatureConfig, ImageFeatureConfig
from seqlabel.errors import DataError
from seqlabel.features.common import check_finite
from seqlabel.types import Utterance

if TYPE_CHECKING:
    from PIL import Image as PILImage

_MODES_16 = ("I;16", "I;16B", "I;16L", "I", "F")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")  # what `seqlabel transcribe` picks from folders
IMAGE_CACHE_BYTES = 2 << 30  # scaled line images kept for augmentation (float32: 128 x 2000 pixels = 1 MB)


def load_image(path: str | Path, what: str = "") -> np.ndarray:
    """Grey levels (H, W) float32 in [0, 1] (1 = white) of an image file; errors name the file.

    Colour is reduced to luminance; transparency is composited on white; 16-bit and float
    images are scaled by their maximum. ``what`` prefixes error messages (e.g. the utterance).
    """
    from PIL import Image, UnidentifiedImageError  # lazy: only image features need Pillow

    path = Path(path)
    prefix = f"{what}: " if what else ""
    if not path.is_file():
        raise DataError(f"{prefix}image file not found: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # Pillow's warning above its limit
            with Image.open(path) as im:
                im.load()
                grey = grey_levels(im)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        pixels = re.search(r"\((\d+) pixels\)", str(e))
        size = f"{int(pixels[1]):,} pixels" if pixels else str(e)
        raise DataError(f"{prefix}image {path} is too large to be a line image ({size}, over Pillow's limit of "
                        f"{Image.MAX_IMAGE_PIXELS:,} against decompression bombs): crop the text line out of it or "
                        f"scale it down (e.g. `convert {path.name} -resize 25% line.png`)") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise DataError(f"{prefix}cannot read image {path}: {e}") from None
    return check_grey(grey, f"{prefix}image {path}")


def grey_levels(im: PILImage.Image) -> np.ndarray:
    """(H, W) float32 grey levels (1 = white) of a loaded Pillow image, as ``load_image`` describes."""
    from PIL import Image

    if im.mode in _MODES_16:
        grey = np.asarray(im, dtype=np.float32)
        top = float(grey.max()) if grey.size else 0.0
        return grey / top if top > 0 else np.ones_like(grey)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, rgba)
    return np.asarray(im.convert("L"), dtype=np.float32) / 255.0


def grey_of(image: np.ndarray | PILImage.Image, what: str) -> np.ndarray:
    """An in-memory line image -> (H, W) grey levels in [0, 1] (1 = white), as ``load_image`` gives.

    ``image``: a Pillow image, or an array: (H, W) float grey levels in [0, 1] (used as they are; values
    beyond 1, e.g. 0-255 levels held as floats, are refused), (H, W) uint8 / uint16 grey, (H, W, 3) RGB or
    (H, W, 4) RGBA uint8 (converted as the files are).
    """
    from PIL import Image

    if isinstance(image, Image.Image):
        return check_grey(grey_levels(image), what)
    array = np.asarray(image)
    if array.ndim == 2 and array.dtype.kind in "fb":
        if array.size and float(np.nanmax(array)) > 1.0:  # clipping would turn every level above 1 white
            raise DataError(f"{what}: float grey levels must lie in [0, 1] (1 = white), but the largest is "
                            f"{float(np.nanmax(array)):g}; divide 0-255 levels by 255 or pass the uint8 array")
        return check_grey(array.astype(np.float32), what)
    if (array.ndim == 2 and array.dtype in (np.uint8, np.uint16)) or (
            array.ndim == 3 and array.shape[2] in (3, 4) and array.dtype == np.uint8):
        return check_grey(grey_levels(Image.fromarray(array)), what)
    raise DataError(f"{what}: expected a Pillow image, an (H, W) float or uint8/uint16 array, or an (H, W, 3|4) "
                    f"uint8 array; got shape {array.shape}, dtype {array.dtype}")


def check_grey(grey: np.ndarray, what: str) -> np.ndarray:
    """``grey`` clipped to [0, 1]; an empty image raises DataError naming ``what``."""
    if grey.ndim != 2 or grey.shape[0] == 0 or grey.shape[1] == 0:
        raise DataError(f"{what} is empty (size {grey.shape[1] if grey.ndim == 2 else 0}x"
                        f"{grey.shape[0] if grey.ndim == 2 else 0})")
    return np.clip(grey, 0.0, 1.0)


def to_ink(grey: np.ndarray, ink: str = "auto") -> np.ndarray:
    """(H, W) grey (1 = white) -> ink intensity (H, W): 1 = ink, 0 = paper.

    ``dark``: dark ink on light paper; ``light``: light ink on dark ground; ``auto``: the paper
    is whichever side of mid-grey the median pixel lies on.
    """
    if ink == "auto":
        ink = "dark" if float(np.median(grey)) >= 0.5 else "light"
    if ink == "dark":
        return (1.0 - grey).astype(np.float32)
    if ink == "light":
        return grey.astype(np.float32)
    raise ValueError(f"ink must be 'dark', 'light' or 'auto', got {ink!r}")


def scale_to_height(image: np.ndarray, height: int) -> np.ndarray:
    """(H, W) -> (height, round(W * height / H)) (at least one column): the aspect ratio is kept."""
    from PIL import Image

    h, w = image.shape
    width = max(1, int(round(w * height / h)))
    if (h, w) == (height, width):
        return image.astype(np.float32, copy=True)
    shrinking = height < h
    resample = Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR
    out = Image.fromarray(image.astype(np.float32), mode="F").resize((width, height), resample)
    return np.clip(np.asarray(out, dtype=np.float32), 0.0, 1.0)


def otsu_threshold(image: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold of values in [0, 1]: maximises the between-class variance of a 256-bin histogram
    (the middle of the best run of bins when a gap between the modes makes several equally good)."""
    counts, edges = np.histogram(image, bins=bins, range=(0.0, 1.0))
    centres = (edges[:-1] + edges[1:]) / 2
    weight0 = np.cumsum(counts)  # pixels at or below each bin
    weight1 = weight0[-1] - weight0
    sum0 = np.cumsum(counts * centres)
    mean0 = sum0 / np.maximum(weight0, 1)
    mean1 = (sum0[-1] - sum0) / np.maximum(weight1, 1)
    between = weight0 * weight1 * (mean0 - mean1) ** 2
    good = between >= between.max() * (1 - 1e-9)  # empty bins between two modes tie
    first = last = int(np.argmax(good))
    while last + 1 < len(good) and good[last + 1]:
        last += 1
    return float(edges[(first + last) // 2 + 1])  # take the middle of the first plateau


def binarize(image: np.ndarray) -> np.ndarray:
    """Ink image -> {0, 1} float32 by Otsu's threshold (values above it are ink); all-paper stays 0."""
    if float(image.max()) - float(image.min()) < 1e-6:
        return np.zeros_like(image, dtype=np.float32) if float(image.max()) < 0.5 else np.ones_like(image)
    return (image > otsu_threshold(image)).astype(np.float32)


def num_frames(width: int, window: int, stride: int) -> int:
    """Frames of an image ``width`` columns wide: ceil((max(width, window) - window) / stride) + 1."""
    return -(-(max(width, window) - window) // stride) + 1


def column_frames(image: np.ndarray, window: int = 1, stride: int = 1) -> np.ndarray:
    """(H, W) -> (T, H * window) with T = num_frames(W, window, stride); zero columns pad the right end."""
    h, w = image.shape
    t = num_frames(w, window, stride)
    padded = np.zeros((h, (t - 1) * stride + window), dtype=np.float32)
    padded[:, :w] = image
    columns = padded.T  # (W', H): one row per column
    idx = np.arange(t)[:, None] * stride + np.arange(window)[None, :]  # (T, window)
    return columns[idx].reshape(t, h * window)  # (T, window, H) -> (T, window * H)


def frames_to_image(frames: np.ndarray, height: int, window: int = 1, stride: int = 1) -> np.ndarray:
    """Inverse of ``column_frames``: (T, height * window) -> (height, (T - 1) * stride + window)."""
    t = frames.shape[0]
    cols = frames.reshape(t, window, height)  # (T, window, H)
    head = cols[:, :stride].reshape(t * stride, height)  # first `stride` columns of every frame
    tail = cols[-1, stride:]  # the last frame's remaining columns
    return np.concatenate([head, tail]).T.copy()  # (W, H) -> (H, W)


class ImageFeatures:
    """Line image -> (T, height * window) float32 ink features in [0, 1] (see the module docstring)."""

    suffixes = IMAGE_SUFFIXES

    def __init__(self, config: FeatureConfig) -> None:
        self.config = config
        self.image_config: ImageFeatureConfig = config.image
        self.frame_rate = 1.0 / self.image_config.stride  # frames per pixel column at the scaled height
        self._augmenter = None
        self._images: dict[tuple[str, str], np.ndarray] = {}  # (id, source) -> scaled ink image, when augmenting
        self._image_bytes = 0

    def __getstate__(self) -> dict:
        """Pickled (spawned DataLoader workers) without the kept images: those workers read the files."""
        return {**self.__dict__, "_images": {}, "_image_bytes": 0}

    @property
    def dim(self) -> int:
        return self.image_config.height * self.image_config.window

    @property
    def augments(self) -> bool:
        return self.image_config.augment

    def line_image(self, utt: Utterance) -> np.ndarray:
        """``utt``'s image as ink (1) on paper (0), scaled to ``height`` rows: (height, W)."""
        return self.ink_image(load_image(utt.source, f"utterance {utt.id!r}"))

    def ink_image(self, grey: np.ndarray) -> np.ndarray:
        """(H, W) grey levels in [0, 1] (1 = white) -> ink (1) on paper (0), scaled: (height, W')."""
        c = self.image_config
        if c.normalize == "centre":
            from seqlabel.features.line_norm import centre_normalize

            return centre_normalize(to_ink(grey, c.ink), c.height, c.band)
        return scale_to_height(to_ink(grey, c.ink), c.height)

    def frames(self, image: np.ndarray, utt: Optional[Utterance] = None) -> torch.Tensor:
        """(height, W) ink image -> (T, F) features: binarisation, padding, column frames."""
        c = self.image_config
        if c.binarize:
            image = binarize(image)
        if c.pad:
            image = np.pad(image, ((0, 0), (c.pad, c.pad)))
        feats = torch.from_numpy(column_frames(image, c.window, c.stride))
        return check_finite(feats, utt) if utt is not None else feats

    def __call__(self, utt: Utterance) -> torch.Tensor:
        """(T, F) float32 features of one line image (no augmentation)."""
        return self.frames(self._kept_image(utt), utt)

    def augmented(self, utt: Utterance, rng: np.random.Generator) -> torch.Tensor:
        """(T2, F) features of a randomly altered copy of the line (affine, elastic, morphology, contrast)."""
        if self._augmenter is None:
            from seqlabel.augment.image import ImageAugment

            self._augmenter = ImageAugment.from_config(self.image_config)
        return self.frames(self._augmenter(self._kept_image(utt), rng), utt)

    def _kept_image(self, utt: Utterance) -> np.ndarray:
        """``line_image(utt)``, from memory when it was kept; kept (read-only) when augmenting, within budget."""
        key = (utt.id, str(utt.source))
        image = self._images.get(key)
        if image is None:
            image = self.line_image(utt)
            if self.augments and self._image_bytes + image.nbytes <= IMAGE_CACHE_BYTES:
                image.flags.writeable = False  # augmentation makes new arrays; this one is shared by every epoch
                self._images[key] = image
                self._image_bytes += image.nbytes
        return image
