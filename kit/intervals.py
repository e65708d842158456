"""The one confidence-interval method Quorum shows for shares (accuracy, pass rates): Wilson's score.

Wilson's interval stays inside [0, 1] and behaves at 0 and n successes and for small n, where the
normal approximation ("Wald") collapses to a zero-width interval or leaves the unit range.
"""

from __future__ import annotations

import math
from typing import NamedTuple

# Two-sided 95%: the standard normal quantile 0.975.
Z_95 = 1.959963984540054


class Interval(NamedTuple):
    low: float
    high: float


def wilson_interval(successes: float, n: float, *, z: float = Z_95) -> Interval | None:
    """Return the Wilson score interval of `successes` out of `n`, or None when n is 0.

    `successes` may be fractional (a sum of partial scores in 0..1); it must lie in [0, n].
    """
    if n <= 0:
        return None
    if not 0 <= successes <= n:
        raise ValueError("successes must lie between 0 and n")
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = (z / (1 + z2 / n)) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return Interval(max(0.0, centre - half), min(1.0, centre + half))
