"""Handwritten digits drawn on photographs: a cheap, endless image-classification world.

Lesson 01 (BiT) pre-trains a small network "upstream" on many renderings of some digit classes
and transfers it to *other* digit classes with a handful of examples each. Every rendering
puts one real handwritten digit (scikit-learn's 8x8 digits) at a random size, position and
colour over a random crop of a bundled photograph (scikit-image / scikit-learn), so a network
must learn strokes that stand out from clutter: features that transfer to new digits.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: The bundled photographs crops are taken from (see :func:`frontier.data.sample_image`).
BACKGROUNDS = ("astronaut", "coffee", "chelsea", "china", "flower", "brick", "grass",
               "gravel", "rocket", "hubble_deep_field", "immunohistochemistry", "retina")


def _background_pool(size: int, names: Sequence[str]) -> list[np.ndarray]:
    import cv2

    from frontier.data.embedded import sample_image

    pool = []
    for name in names:
        photo = sample_image(name).astype(np.float32) / 255.0
        for scale in (size * 3, size * 6):  # two zoom levels: coarse and fine texture
            h, w = photo.shape[:2]
            f = scale / min(h, w)
            pool.append(cv2.resize(photo, (max(int(w * f), size), max(int(h * f), size)),
                                   interpolation=cv2.INTER_AREA))
    return pool


def cluttered_digits(images: np.ndarray, labels: np.ndarray, n: int | None = None, *,
                     size: int = 32, digit_size: tuple[int, int] = (14, 22),
                     contrast: tuple[float, float] = (0.6, 1.0),
                     backgrounds: Sequence[str] = BACKGROUNDS, seed: int = 0
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` renderings of randomly chosen digits over random photo crops (``n=None``: every
    digit once, in order).

    ``images``: (m, 8, 8) digit images in [0, 16] (:func:`frontier.data.digits`), ``labels``
    (m,). Returns images (n, size, size, 3) uint8, their labels (n,) and the index of the
    source digit of each rendering (n,) (the ground truth of what was drawn). The digit's
    side is uniform in ``digit_size`` pixels; it is blended at a uniform position, in a colour
    that contrasts with the patch beneath (plus noise), with opacity uniform in ``contrast``.
    """
    import cv2

    if len(images) != len(labels) or len(images) == 0:
        raise ValueError(f"cluttered_digits: {len(images)} images and {len(labels)} labels; "
                         "give the same, non-zero number")
    if not 0 < digit_size[0] <= digit_size[1] <= size:
        raise ValueError(f"cluttered_digits: digit_size={digit_size} must lie in (0, {size}]")
    rng = np.random.default_rng(seed)
    pool = _background_pool(size, backgrounds)
    source = np.arange(len(images)) if n is None else rng.integers(0, len(images), n)
    out = np.empty((len(source), size, size, 3), np.uint8)
    for i, j in enumerate(source):
        bg = pool[rng.integers(len(pool))]
        y0 = rng.integers(0, bg.shape[0] - size + 1)
        x0 = rng.integers(0, bg.shape[1] - size + 1)
        canvas = bg[y0:y0 + size, x0:x0 + size].copy()
        if rng.random() < 0.5:
            canvas = canvas[:, ::-1]
        s = int(rng.integers(digit_size[0], digit_size[1] + 1))
        mask = cv2.resize(images[j] / 16.0, (s, s), interpolation=cv2.INTER_LINEAR)
        mask = np.clip(mask, 0, 1)[..., None] * rng.uniform(*contrast)
        top, left = rng.integers(0, size - s + 1, 2)
        window = canvas[top:top + s, left:left + s]
        colour = np.clip(1 - window.mean(axis=(0, 1)) + rng.normal(0, 0.2, 3), 0, 1)
        canvas[top:top + s, left:left + s] = window * (1 - mask) + colour * mask
        out[i] = np.clip(canvas * 255 + 0.5, 0, 255).astype(np.uint8)
    return out, labels[source], source
