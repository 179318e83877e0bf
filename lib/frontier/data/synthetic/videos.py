"""A motion-video simulator with known truth (lessons 04 and 05).

Each clip shows one textured shape over a textured, static background. The classes differ only
in how the shape moves:

    left, right, up, down          the shape slides (and wraps around the frame edges)
    clockwise, anticlockwise       the shape spins in place

Everything a single frame shows is drawn from the same distribution in every class: the
shape's position is uniform over the (wrapping) frame, its orientation is uniform, and speed,
size, colours, texture and noise are drawn independently of the class. A clip played backwards
is a clip of the opposite class. So no single frame, and no unordered set of frames, tells the
class: only the order of the frames does. A frame-by-frame classifier stays at chance
(1 / number of classes) while a network that convolves over time can learn the task.

Clips are written as MJPG ``.avi`` files in UCF101's layout, ``root/<split>/<class>/<name>.avi``,
so the lessons read them with the same code as the real dataset.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

#: Every motion class, in the order the simulator knows them.
MOTIONS: tuple[str, ...] = ("left", "right", "up", "down", "clockwise", "anticlockwise")
_DIRECTIONS = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
_SPINS = {"clockwise": 1, "anticlockwise": -1}  # image y points down: +angle turns clockwise


def _texture(rng: np.random.Generator, size: int, scale: int) -> np.ndarray:
    """A smooth random colour texture, (size, size, 3) uint8."""
    import cv2

    coarse = rng.uniform(0, 255, (max(2, size // scale), max(2, size // scale), 3))
    return cv2.resize(coarse.astype(np.float32), (size, size),
                      interpolation=cv2.INTER_CUBIC).clip(0, 255).astype(np.uint8)


def _shape_points(rng: np.random.Generator) -> np.ndarray:
    """An irregular, asymmetric polygon around the origin with radius ~1, (n, 2)."""
    n = int(rng.integers(5, 8))
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    radii = rng.uniform(0.45, 1.0, n)
    radii[0] = 1.3  # one long spike, so the orientation (and a spin) is visible
    return np.stack([radii * np.cos(angles), radii * np.sin(angles)], 1)


def render_clip(motion: str, rng: np.random.Generator, *, size: int = 64,
                n_frames: int = 40, noisy: bool = True) -> np.ndarray:
    """One clip of ``motion``: (n_frames, size, size, 3) uint8, BGR (OpenCV's order).

    ``noisy=False`` leaves out the pixel noise (to look at, or to compare clips exactly).
    """
    import cv2

    if motion not in MOTIONS:
        raise ValueError(f"unknown motion {motion!r}: use one of {', '.join(MOTIONS)}")
    texture = _texture(rng, size, int(rng.integers(4, 12))).astype(np.float32)
    level = rng.uniform(60, 196)  # a low-contrast textured background around a grey level
    background = (level + 0.1 * (texture - 128)).clip(0, 255).astype(np.uint8)
    colour = (level + rng.choice([-1, 1]) * rng.uniform(60, 100)
              + rng.uniform(-40, 40, 3)).clip(0, 255)  # the shape stands out from it
    shape = _shape_points(rng)
    radius = size * rng.uniform(0.22, 0.32)
    centre = rng.uniform(0, size, 2)  # where the shape is in the middle of the clip
    angle = rng.uniform(0, 2 * np.pi)
    speed = size * rng.uniform(0.05, 0.08)  # pixels per frame
    spin = rng.uniform(0.2, 0.35)  # radians per frame
    noise = rng.uniform(2, 6)
    t = np.arange(n_frames) - (n_frames - 1) / 2  # symmetric in time: frame marginals agree
    frames = np.empty((n_frames, size, size, 3), np.uint8)
    for i, ti in enumerate(t):
        pos, theta = centre.copy(), angle
        if motion in _DIRECTIONS:
            pos = centre + speed * ti * np.array(_DIRECTIONS[motion])
        else:
            theta = angle + _SPINS[motion] * spin * ti
        rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        points = radius * shape @ rot.T + np.mod(pos, size)
        frame = background.copy()
        for dx in (-size, 0, size):  # draw the wrapped copies: the frame is a torus
            for dy in (-size, 0, size):
                poly = np.round((points + [dx, dy]) * 16).astype(np.int32)
                cv2.fillPoly(frame, [poly], colour.tolist(), lineType=cv2.LINE_AA, shift=4)
        if noisy:
            frame = (frame + rng.normal(0, noise, frame.shape)).clip(0, 255)
        frames[i] = frame.astype(np.uint8)
    return frames


def write_avi(path: str | os.PathLike[str], frames: np.ndarray, fps: float = 25.0) -> Path:
    """Write BGR uint8 frames (t, h, w, 3) as an MJPG ``.avi`` (atomically: temp, then rename)."""
    import cv2

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.avi")
    h, w = frames.shape[1:3]
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    if not writer.isOpened():
        raise OSError(f"OpenCV cannot write MJPG video to {tmp}")
    for frame in frames:
        writer.write(np.ascontiguousarray(frame))
    writer.release()
    os.replace(tmp, path)
    return path


def videos(root: str | os.PathLike[str], *, classes: tuple[str, ...] = MOTIONS,
           clips_per_class: tuple[int, int, int] = (30, 10, 10), size: int = 64,
           frames: tuple[int, int] = (32, 48), seed: int = 0) -> dict[str, Path]:
    """Write simulated motion clips under ``root`` in UCF101's layout; return the split folders.

    ``root/{train,val,test}/<class>/<class>_<i>.avi``, ``clips_per_class`` = (train, val, test)
    clips of each class in ``classes`` (a subset of :data:`MOTIONS`), each ``size`` x ``size``
    pixels and a random number of frames in ``frames`` (inclusive). Clips already written by an
    earlier call with the same arguments are kept (a ``.done`` marker records the arguments).
    """
    unknown = [c for c in classes if c not in MOTIONS]
    if unknown:
        raise ValueError(f"unknown motion class(es) {unknown}: use some of {', '.join(MOTIONS)}")
    root = Path(root)
    splits = {name: root / name for name in ("train", "val", "test")}
    stamp = repr((tuple(classes), tuple(clips_per_class), size, tuple(frames), seed))
    marker = root / ".done"
    if marker.exists() and marker.read_text() == stamp:
        return splits
    for split_index, folder in enumerate(splits.values()):
        shutil.rmtree(folder, ignore_errors=True)  # no clips left from other arguments
        for motion in classes:
            for i in range(clips_per_class[split_index]):
                rng = np.random.default_rng([seed, split_index, MOTIONS.index(motion), i])
                n = int(rng.integers(frames[0], frames[1] + 1))
                write_avi(folder / motion / f"{motion}_{i:03d}.avi",
                          render_clip(motion, rng, size=size, n_frames=n))
    marker.write_text(stamp)
    return splits
