"""A hand-gesture camera simulator with known truth (lessons 08 and 09).

Renders what the OpenMV emoji keyboard's camera sees: 96x96 greyscale frames of one hand in
one of five poses, as in the Arm example's relabelling of the Kaggle gesture data:

    0 no gesture   background alone, or a hand mostly outside the frame
    1 hand up      open palm, four fingers and the thumb spread, fingers up
    2 thumbs down  a closed fist with the thumb pointing down
    3 thumbs up    a closed fist with the thumb pointing up
    4 fist         a closed fist, knuckles up, no finger out

A hand is a union of capsules (a palm, fingers, a thumb, the forearm) drawn in its own
coordinates, one palm-width = 1, y up, then placed with a random position, scale and rotation
(up to +-25 degrees, so "up" and "down" stay meaningful). Each frame has its own lighting
(a brightness gradient across the frame), skin and background levels, background clutter
(blurred blobs and bars, as on a desk or a wall), and the sensor's Gaussian noise.
"""

from __future__ import annotations

import numpy as np

CLASSES: tuple[str, ...] = ("no gesture", "hand up", "thumbs down", "thumbs up", "fist")

#: Share of "no gesture" frames that show part of a hand entering the frame (the rest: none).
PARTIAL_SHARE = 0.5
MAX_ROTATION = np.deg2rad(25.0)

# capsules (x0, y0, x1, y1, radius) in hand coordinates; shade multiplies the skin level
_FIST = [(-0.18, 0.0, 0.18, 0.0, 0.42, 1.0),  # palm and folded fingers
         (-0.30, 0.36, -0.30, 0.36, 0.13, 0.92), (-0.10, 0.42, -0.10, 0.42, 0.13, 0.92),
         (0.10, 0.42, 0.10, 0.42, 0.13, 0.92), (0.30, 0.36, 0.30, 0.36, 0.13, 0.92)]
_FOREARM = [(0.0, -0.3, 0.0, -3.0, 0.36, 0.95)]
_POSES: dict[int, list[tuple[float, ...]]] = {
    1: [(-0.16, -0.05, 0.16, -0.05, 0.44, 1.0),
        (-0.33, 0.3, -0.40, 1.05, 0.1, 1.05), (-0.11, 0.35, -0.12, 1.25, 0.1, 1.05),
        (0.11, 0.35, 0.13, 1.2, 0.1, 1.05), (0.32, 0.3, 0.42, 0.95, 0.09, 1.05),
        (0.42, -0.05, 0.85, 0.35, 0.12, 1.05)] + _FOREARM,
    # thumbs up and down: the fist on its side, thumb along the hand's vertical axis
    2: [(0.0, -0.15, 0.0, 0.15, 0.4, 1.0), (-0.38, -0.22, -0.38, -0.22, 0.12, 0.9),
        (-0.40, 0.02, -0.40, 0.02, 0.12, 0.9), (-0.38, 0.24, -0.38, 0.24, 0.12, 0.9),
        (0.15, -0.3, 0.12, -0.95, 0.13, 1.08), (0.3, 0.2, 1.0, 2.5, 0.35, 0.95)],
    3: [(0.0, -0.15, 0.0, 0.15, 0.4, 1.0), (-0.38, -0.22, -0.38, -0.22, 0.12, 0.9),
        (-0.40, 0.02, -0.40, 0.02, 0.12, 0.9), (-0.38, 0.24, -0.38, 0.24, 0.12, 0.9),
        (0.15, 0.3, 0.12, 0.95, 0.13, 1.08), (0.3, -0.2, 1.0, -2.5, 0.35, 0.95)],
    4: _FIST + _FOREARM,
}


def _capsule_distance(x: np.ndarray, y: np.ndarray, c: tuple[float, ...]) -> np.ndarray:
    x0, y0, x1, y1, r = c[:5]
    dx, dy = x1 - x0, y1 - y0
    t = np.clip(((x - x0) * dx + (y - y0) * dy) / max(dx * dx + dy * dy, 1e-9), 0.0, 1.0)
    return np.hypot(x - x0 - t * dx, y - y0 - t * dy) - r


def _smooth_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    size = image.shape[-1]
    f = np.fft.fftfreq(size)
    kernel = np.exp(-2 * np.pi**2 * sigma**2 * (f[:, None] ** 2 + f[None, :] ** 2))
    return np.fft.irfft2(np.fft.rfft2(image) * kernel[:, : size // 2 + 1], s=(size, size))


def _background(size: int, rng: np.random.Generator) -> np.ndarray:
    """Wall or desk: a level, a lighting gradient and blurred clutter (blobs and bars)."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    angle = rng.uniform(0, 2 * np.pi)
    image = rng.uniform(0.1, 0.6) + rng.uniform(0, 0.25) * (
        np.cos(angle) * (xx - 0.5) + np.sin(angle) * (yy - 0.5))
    clutter = np.zeros((size, size))
    for _ in range(rng.integers(0, 6)):
        cx, cy = rng.uniform(0, 1, 2)
        if rng.random() < 0.5:
            r = rng.uniform(0.03, 0.15)
            mask = (xx - cx) ** 2 + (yy - cy) ** 2 < r * r
        else:
            a, w = rng.uniform(0, np.pi), rng.uniform(0.01, 0.05)
            mask = np.abs(np.cos(a) * (xx - cx) + np.sin(a) * (yy - cy)) < w
        clutter[mask] = rng.uniform(-0.3, 0.3)
    return image + _smooth_blur(clutter, rng.uniform(0.5, 2.0))


def _hand(pose: int, size: int, centre: np.ndarray, scale: float, rotation: float,
          skin: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(alpha, shade) images of one hand: alpha in [0, 1] (anti-aliased), shade its level."""
    yy, xx = np.mgrid[0:size, 0:size].astype(float)
    # pixel -> hand coordinates: translate, rotate back, scale; image rows grow downwards
    px, py = (xx - centre[0]) / scale, -(yy - centre[1]) / scale
    c, s = np.cos(rotation), np.sin(rotation)
    hx, hy = c * px + s * py, -s * px + c * py
    distance = np.full((size, size), np.inf)
    shade = np.zeros((size, size))
    for capsule in _POSES[pose]:
        d = _capsule_distance(hx, hy, capsule)
        closer = d < distance
        # a part darkens towards its rim, so overlapping fingers keep visible outlines
        rim = np.clip(-d / capsule[4], 0, 1) ** 0.5
        shade = np.where(closer, skin * capsule[5] * (0.75 + 0.25 * rim), shade)
        distance = np.minimum(distance, d)
    alpha = np.clip(0.5 - distance * scale, 0.0, 1.0)  # one pixel of anti-aliasing
    return alpha, shade * rng.uniform(0.95, 1.05)


def gestures(n: int, seed: int, *, size: int = 96, classes: np.ndarray | None = None
             ) -> dict[str, np.ndarray]:
    """``n`` simulated camera frames and their truth.

    Returns ``images`` (n, size, size, 1) float32 in [0, 1]; ``labels`` (n,) int in 0..4
    (:data:`CLASSES`; drawn uniformly unless ``classes`` gives them); and per frame the truth
    it was drawn from: ``centre`` (n, 2) pixels (x, y), ``scale`` (pixels per palm width),
    ``rotation`` (radians, counter-clockwise), ``partial`` (a "no gesture" frame showing part
    of a hand) and ``noise`` (the sensor noise's standard deviation).
    """
    if n < 0 or size < 16:
        raise ValueError(f"gestures: need n >= 0 and size >= 16, got n={n}, size={size}")
    rng = np.random.default_rng(seed)
    labels = (rng.integers(0, len(CLASSES), n) if classes is None
              else np.asarray(classes, dtype=np.int64))
    if labels.shape != (n,) or (n and (labels.min() < 0 or labels.max() >= len(CLASSES))):
        raise ValueError(f"gestures: classes must be {n} labels in 0..{len(CLASSES) - 1}")
    images = np.empty((n, size, size, 1), np.float32)
    centre = np.zeros((n, 2))
    scale, rotation, noise = np.zeros(n), np.zeros(n), np.zeros(n)
    partial = np.zeros(n, bool)
    for i, label in enumerate(labels):
        frame = _background(size, rng)
        scale[i] = size * rng.uniform(0.24, 0.36)
        rotation[i] = rng.uniform(-MAX_ROTATION, MAX_ROTATION)
        centre[i] = rng.uniform(0.3, 0.7, 2) * size
        pose = int(label)
        if label == 0 and rng.random() < PARTIAL_SHARE:
            # a hand entering from one side: its centre beyond the edge, some fingers inside
            partial[i], pose = True, int(rng.integers(1, len(CLASSES)))
            beyond = scale[i] * rng.uniform(0.3, 0.7)
            along = rng.uniform(0.2, 0.8) * size
            centre[i] = [(-beyond, along), (size + beyond, along), (along, -beyond),
                         (along, size + beyond)][rng.integers(4)]
        if label != 0 or partial[i]:
            alpha, shade = _hand(pose, size, centre[i], scale[i], rotation[i],
                                 rng.uniform(0.45, 0.95), rng)
            frame = (1 - alpha) * frame + alpha * shade
        noise[i] = rng.uniform(0.01, 0.06)
        frame = frame + rng.normal(0, noise[i], frame.shape)
        images[i, ..., 0] = np.clip(frame, 0, 1)
    return {"images": images, "labels": labels, "centre": centre, "scale": scale,
            "rotation": rotation, "partial": partial, "noise": noise}
