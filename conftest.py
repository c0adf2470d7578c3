"""Root conftest: kept thin on purpose; the phonelab plugin lives in `fixtures/`."""
