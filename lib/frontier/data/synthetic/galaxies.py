"""A Galaxy Zoo simulator with known truth (lessons 02 and 03).

Galaxies are rendered from morphology parameters, then observed through a seeing-limited
telescope: a distance (redshift) knob shrinks the galaxy, the point-spread function blurs it and
sky noise grows as it fades. Volunteers are then asked "is there a bar?". Each volunteer answers
"yes" with probability

    rho = 0.03 + 0.92 * bar_strength * resolution * face_on

where ``resolution = size^2 / (size^2 + (2 psf)^2)`` says how well the telescope resolves the
galaxy (``size``: apparent disc scale length in pixels, ``psf``: blur in pixels) and
``face_on = cos(inclination)`` (a bar is hard to see in an edge-on disc). Smooth galaxies have
``bar_strength = 0``. Each galaxy gets N volunteers (5 to 40, skewed so that many have few)
and k ~ Binomial(N, rho) "yes" votes: the labels the Bayesian CNN learns from.
"""

from __future__ import annotations

import numpy as np

PSF_PIXELS = 1.3  # Gaussian sigma of the blur, in pixels (constant seeing)


def bar_probability(bar_strength: np.ndarray, size: np.ndarray, inclination: np.ndarray,
                    psf: float = PSF_PIXELS) -> np.ndarray:
    """rho, the probability that a volunteer answers "bar" (see the module docstring)."""
    resolution = size**2 / (size**2 + (2 * psf) ** 2)
    return 0.03 + 0.92 * bar_strength * resolution * np.cos(inclination)


def _draw(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    featured = rng.random(n) < 0.45
    barred = featured & (rng.random(n) < 0.55)
    redshift = rng.uniform(0.02, 0.15, n)
    return {
        "featured": featured,
        "bar_strength": np.where(barred, rng.uniform(0.35, 1.0, n), 0.0),
        "arms": np.where(featured, rng.integers(0, 5, n), 0),
        "bulge_fraction": np.where(featured, rng.uniform(0.05, 0.5, n), 1.0),
        "inclination": np.where(featured, np.arccos(rng.uniform(0.15, 1.0, n)),
                                np.arccos(rng.uniform(0.5, 1.0, n))),
        "position_angle": rng.uniform(0, np.pi, n),
        "bar_angle": rng.uniform(0, np.pi, n),
        "redshift": redshift,
        # apparent disc scale length in pixels: a ~4 kpc disc at redshift z
        "size": 7.0 * (0.03 / redshift) ** 0.9 * rng.uniform(0.8, 1.25, n),
        "pitch": rng.uniform(0.25, 0.45, n),
    }


def _render(p: dict[str, np.ndarray], size: int, rng: np.random.Generator) -> np.ndarray:
    """Noisy, blurred images (n, size, size) in [0, 1] for parameters ``p``."""
    from scipy.ndimage import gaussian_filter

    n = len(p["redshift"])
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) - (size - 1) / 2
    x = x[None] - rng.normal(0, 0.7, (n, 1, 1))
    y = y[None] - rng.normal(0, 0.7, (n, 1, 1))
    pa = p["position_angle"][:, None, None]
    xr = x * np.cos(pa) + y * np.sin(pa)
    yr = (-x * np.sin(pa) + y * np.cos(pa)) / np.maximum(np.cos(p["inclination"]), 0.2)[:, None,
                                                                                              None]
    r = np.sqrt(xr**2 + yr**2) + 1e-3
    theta = np.arctan2(yr, xr)
    scale = p["size"][:, None, None]
    bulge_f = p["bulge_fraction"][:, None, None]
    bulge = np.exp(-7.67 * ((r / (1.1 * scale)) ** 0.25 - 1))  # de Vaucouleurs profile
    bulge /= bulge.max(axis=(1, 2), keepdims=True)
    disc = np.exp(-r / scale)
    arms = p["arms"][:, None, None]
    spiral = 1 + 0.8 * (arms > 0) * np.cos(
        np.maximum(arms, 1) * (theta - np.log(r / scale + 1e-3) / np.tan(p["pitch"])[:, None,
                                                                                          None]))
    disc = disc * np.where(arms > 0, np.clip(spiral, 0, None), 1.0)
    ba = p["bar_angle"][:, None, None]
    xb = xr * np.cos(ba) + yr * np.sin(ba)
    yb = -xr * np.sin(ba) + yr * np.cos(ba)
    bar = np.exp(-0.5 * ((xb / (1.6 * scale)) ** 2 + (yb / (0.3 * scale)) ** 2))
    image = bulge_f * bulge + (1 - bulge_f) * disc + \
        1.2 * p["bar_strength"][:, None, None] * bar * (1 - bulge_f)
    image = gaussian_filter(image, sigma=(0, PSF_PIXELS, PSF_PIXELS))
    brightness = (0.03 / p["redshift"]) ** 1.2  # fainter with distance
    image = image / image.max(axis=(1, 2), keepdims=True) * \
        np.clip(brightness, 0.15, 1.0)[:, None, None]
    image = image + rng.normal(0, 0.04, image.shape)
    return np.clip(image, 0, 1).astype(np.float32)


def galaxies(n: int, seed: int, *, size: int = 64, bands: int = 1, chunk: int = 2000
             ) -> dict[str, np.ndarray]:
    """Simulate ``n`` galaxies: a dict with ``images`` (n, size, size, bands) float32 in [0, 1],
    the true parameters (``featured``, ``bar_strength``, ``arms``, ``bulge_fraction``,
    ``inclination`` (rad), ``redshift``, ``size`` (pixels), ...), ``rho`` (n,) the true
    probability of a "bar" vote, ``n_volunteers`` (n,) in 5..40 and ``votes`` (n,) ~
    Binomial(n_volunteers, rho). Deterministic for a ``seed``; rendered in chunks."""
    if n < 1 or bands not in (1, 3):
        raise ValueError(f"galaxies(n={n}, bands={bands}): need n >= 1 and bands 1 or 3")
    rng = np.random.default_rng(seed)
    params = _draw(n, rng)
    rho = bar_probability(params["bar_strength"], params["size"], params["inclination"])
    n_volunteers = np.clip(np.round(5 + 35 * rng.beta(0.9, 1.3, n)), 5, 40).astype(np.int64)
    votes = rng.binomial(n_volunteers, rho)
    images = np.empty((n, size, size, bands), np.float32)
    for start in range(0, n, chunk):
        part = {k: v[start:start + chunk] for k, v in params.items()}
        grey = _render(part, size, rng)
        if bands == 1:
            images[start:start + chunk, ..., 0] = grey
        else:  # bluer discs and arms, redder bulges
            images[start:start + chunk] = np.stack(
                [grey * 0.9, grey, np.clip(grey * (1.05 + 0.2 * (1 - part["bulge_fraction"])
                                                   [:, None, None]), 0, 1)], axis=-1)
    return {"images": images, **params, "rho": rho, "n_volunteers": n_volunteers,
            "votes": votes}
