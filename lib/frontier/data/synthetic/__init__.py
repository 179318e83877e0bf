"""Simulators with known ground truth, for the offline ``quick`` profile.

Each simulator is seeded (the seed is a parameter, never global state) and returns its
ground truth next to the data, so a lesson can check what it learned against the truth.
"""
from frontier.data.synthetic.cluttered_digits import cluttered_digits  # noqa: E402,F401  (lesson 01)
from frontier.data.synthetic.galaxies import galaxies  # noqa: F401, E402
from frontier.data.synthetic.gestures import gestures  # noqa: F401, E402  (lessons 08-09)
from frontier.data.synthetic.videos import videos  # noqa: F401, E402  (lessons 04-05)
