"""Real data that ships inside installed packages: usable offline, on any machine.

- :func:`digits`: scikit-learn's 1,797 handwritten digits, 8x8 (UCI optdigits test set).
- :func:`sample_image`: scikit-image's bundled photographs (``hubble_deep_field``, ``astronaut``,
  ``coffee``, ``chelsea``, ...) and scikit-learn's two sample images (``china``, ``flower``).
"""

from __future__ import annotations

import numpy as np

#: scikit-learn's sample images (JPEGs inside the sklearn package).
SKLEARN_IMAGES = ("china", "flower")
#: scikit-image's bundled colour or grey photos (files inside the skimage package; those that
#: skimage would download on first use are left out so this works offline).
SKIMAGE_IMAGES = ("astronaut", "brick", "camera", "cell", "chelsea", "coffee", "coins",
                  "grass", "gravel", "horse", "hubble_deep_field", "immunohistochemistry",
                  "logo", "moon", "page", "retina", "rocket", "text")


def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's handwritten digits: images (1797, 8, 8) float32 in [0, 16], labels int64."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.images.astype(np.float32), d.target.astype(np.int64)


def sample_image(name: str) -> np.ndarray:
    """A bundled photo as uint8 (H, W, 3) (grey images are repeated to three channels)."""
    if name in SKLEARN_IMAGES:
        from sklearn.datasets import load_sample_image

        image = load_sample_image(f"{name}.jpg")
    elif name in SKIMAGE_IMAGES:
        import skimage.data

        image = getattr(skimage.data, name)()
    else:
        raise ValueError(f"no bundled image {name!r}; choose one of "
                         f"{', '.join(sorted(SKLEARN_IMAGES + SKIMAGE_IMAGES))}")
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    if image.shape[-1] == 4:
        image = image[..., :3]
    if image.dtype != np.uint8:  # some skimage images are bool or float
        image = (np.clip(image / max(image.max(), 1), 0, 1) * 255).astype(np.uint8) \
            if image.dtype != bool else image.astype(np.uint8) * 255
    return image
