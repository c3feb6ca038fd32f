"""Settings every test shares: hypothesis profiles.

``ci`` (chosen when ``CI`` is set, as ``.ci/run`` does) has no wall-clock deadline, because a
loaded two-core machine can make one example slow without anything being wrong, and derandomises
the examples so that a CI run is reproducible. ``dev`` keeps hypothesis's defaults. Pick one by
hand with ``HYPOTHESIS_PROFILE=ci``.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.register_profile("dev", deadline=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
