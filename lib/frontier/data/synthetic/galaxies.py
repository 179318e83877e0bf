"""A Galaxy Zoo simulator with known truth (lessons 02 and 03).

Galaxies are rendered from morphology parameters and observed the way Galaxy Zoo shows them:
each cutout is scaled to the galaxy's own size, so a galaxy fills the frame whether it is near
or far. Distance (redshift) shows instead as blur and noise: the telescope's point-spread
function (PSF) covers more of a farther galaxy, and its surface brightness drops against the sky.
Volunteers are then asked "is there a bar?". Each volunteer answers "yes" with probability

    rho = 0.03 + 0.92 * bar_strength * resolution * face_on

where ``resolution = size^2 / (size^2 + (2 psf)^2)`` says how well the telescope resolves the
galaxy (``size``: disc scale length in pixels, ``psf``: Gaussian sigma of the blur in pixels) and
``face_on = cos(inclination)`` (a bar is hard to see in an edge-on disc). Smooth galaxies and
unbarred discs have ``bar_strength = 0``.

As in Galaxy Zoo 2's decision tree, the bar question is asked only of volunteers who first
answered "featured" and "not edge-on". Each galaxy is shown to 20 to 50 volunteers; each goes
on to the bar question with a probability that is high for face-on discs and low for smooth
galaxies, so N, the number who answer it, ranges from 0 (a clear elliptical) to about 45 (a
clear face-on disc). k ~ Binomial(N, rho) of them say "bar": the labels the Bayesian CNN learns
from.
"""

from __future__ import annotations

import numpy as np

FEATURED_SHARE = 0.4  # discs; the rest are smooth ellipticals
BARRED_SHARE = 0.45  # of the discs


def bar_probability(bar_strength: np.ndarray, size: np.ndarray, inclination: np.ndarray,
                    psf: np.ndarray) -> np.ndarray:
    """rho, the probability that a volunteer answers "bar" (see the module docstring)."""
    return 0.03 + 0.92 * bar_strength * resolution(size, psf) * np.cos(inclination)


def asked_about_bar(p: dict[str, np.ndarray]) -> np.ndarray:
    """The probability that a volunteer who sees the galaxy reaches the bar question: answers
    "featured" (likely for discs, rare for ellipticals) and then "not edge-on"."""
    featured = np.where(p["featured"], 0.9, 0.06)
    return featured * np.clip(1.15 * np.cos(p["inclination"]), 0.05, 1.0)


def resolution(size: np.ndarray, psf: np.ndarray) -> np.ndarray:
    """How well the galaxy is resolved, in (0, 1): 1 when the blur is small against its size."""
    return size**2 / (size**2 + (2 * psf) ** 2)


def _draw(n: int, image_size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    featured = rng.random(n) < FEATURED_SHARE
    barred = featured & (rng.random(n) < BARRED_SHARE)
    redshift = rng.uniform(0.02, 0.15, n)
    pixel = image_size / 64  # sizes below are for a 64-pixel cutout
    return {
        "featured": featured,
        "bar_strength": np.where(barred, rng.uniform(0.3, 1.0, n), 0.0),
        "arms": np.where(featured, rng.choice([0, 2, 3, 4], n, p=[0.2, 0.5, 0.2, 0.1]), 0),
        "bulge_fraction": np.where(featured, rng.uniform(0.1, 0.5, n), 1.0),
        # discs at random orientations; ellipticals' flattening drawn the same way
        "inclination": np.where(featured, np.arccos(rng.uniform(0.2, 1.0, n)),
                                np.arccos(rng.uniform(0.5, 1.0, n))),
        "position_angle": rng.uniform(0, np.pi, n),
        "bar_angle": rng.uniform(0, np.pi, n),
        "pitch": rng.uniform(0.25, 0.45, n),
        "redshift": redshift,
        "size": pixel * rng.uniform(5.0, 8.0, n),
        # the PSF grows against the (rescaled) galaxy with distance: sigma 0.8 px at z = 0.02
        "psf": pixel * 0.8 * (redshift / 0.02) ** 0.8,
    }


def _blur(images: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Gaussian blur with one sigma per image (pixels), through the FFT."""
    size = images.shape[-1]
    f = np.fft.fftfreq(size)
    f2 = f[:, None] ** 2 + f[None, :] ** 2
    kernel = np.exp(-2 * np.pi**2 * sigma[:, None, None] ** 2 * f2)
    return np.fft.irfft2(np.fft.rfft2(images) * kernel[..., : size // 2 + 1], s=(size, size))


def _render(p: dict[str, np.ndarray], size: int, rng: np.random.Generator) -> np.ndarray:
    """Noisy, blurred images (n, size, size) in [0, 1] for parameters ``p``."""
    n = len(p["redshift"])
    y, x = np.mgrid[0:size, 0:size].astype(np.float64) - (size - 1) / 2
    x = x[None] - rng.normal(0, 0.5, (n, 1, 1))
    y = y[None] - rng.normal(0, 0.5, (n, 1, 1))

    def column(name: str) -> np.ndarray:
        return p[name][:, None, None]

    pa = column("position_angle")
    xr = x * np.cos(pa) + y * np.sin(pa)
    yr = (-x * np.sin(pa) + y * np.cos(pa)) / np.maximum(np.cos(column("inclination")), 0.2)
    r = np.sqrt(xr**2 + yr**2) + 1e-3
    theta = np.arctan2(yr, xr)
    scale, bulge_f = column("size"), column("bulge_fraction")
    # de Vaucouleurs bulge: the whole galaxy for ellipticals, a compact core in discs
    r_e = np.where(bulge_f < 1, 0.35, 2.5) * scale
    bulge = np.exp(-7.67 * ((r / r_e) ** 0.25 - 1))
    bulge /= bulge.max(axis=(1, 2), keepdims=True)
    arms = column("arms")
    phase = np.maximum(arms, 1) * (theta - np.log(r / scale + 1e-3) / np.tan(column("pitch")))
    spiral = np.where(arms > 0, (1 + np.cos(phase)) ** 2 / 2, 1.0)
    disc = np.exp(-r / scale) * (0.25 + 0.75 * spiral * (r > 0.5 * scale))
    ba = column("bar_angle")
    xb = xr * np.cos(ba) + yr * np.sin(ba)
    yb = -xr * np.sin(ba) + yr * np.cos(ba)
    bar = np.exp(-0.5 * ((xb / (1.4 * scale)) ** 4 + (yb / (0.35 * scale)) ** 2) ** 0.7)
    image = bulge_f * bulge + (1 - bulge_f) * (disc + 3.0 * column("bar_strength") * bar)
    image = _blur(image, p["psf"])
    image /= image.max(axis=(1, 2), keepdims=True)
    # surface brightness fades with distance against a constant sky noise
    sky = 0.02 + 0.06 * (column("redshift") - 0.02) / 0.13
    image = np.arcsinh(6 * image) / np.arcsinh(6) * 0.9  # the asinh stretch of survey images
    image = image + rng.normal(0, 1, image.shape) * sky
    return np.clip(image, 0, 1).astype(np.float32)


def galaxies(n: int, seed: int, *, size: int = 64, bands: int = 1, chunk: int = 2000
             ) -> dict[str, np.ndarray]:
    """Simulate ``n`` galaxies: a dict with ``images`` (n, size, size, bands) float32 in [0, 1],
    the true parameters (``featured``, ``bar_strength``, ``arms``, ``bulge_fraction``,
    ``inclination`` (rad), ``redshift``, ``size`` and ``psf`` (pixels), ``resolution``, ...),
    ``rho`` (n,) the true probability of a "bar" vote, ``shown_to`` (n,) the volunteers who
    saw the galaxy, ``n_volunteers`` (n,) those who answered the bar question and ``votes``
    (n,) ~ Binomial(n_volunteers, rho). Deterministic for a ``seed``."""
    if n < 1 or bands not in (1, 3) or size < 16:
        raise ValueError(f"galaxies(n={n}, size={size}, bands={bands}): need n >= 1, "
                         "size >= 16 pixels and bands 1 or 3")
    rng = np.random.default_rng(seed)
    params = _draw(n, size, rng)
    params["resolution"] = resolution(params["size"], params["psf"])
    rho = bar_probability(params["bar_strength"], params["size"], params["inclination"],
                          params["psf"])
    shown_to = rng.integers(20, 51, n)
    n_volunteers = rng.binomial(shown_to, asked_about_bar(params))
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
    return {"images": images, **params, "rho": rho, "shown_to": shown_to,
            "n_volunteers": n_volunteers,
            "votes": votes}
