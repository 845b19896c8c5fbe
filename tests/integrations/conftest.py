from tests.tracking.conftest import team  # noqa: F401  (the same team as the tracking tests)
