from tests.tracking.conftest import Team, team

__all__ = ["Team", "team"]
