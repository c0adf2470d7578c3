"""Lab scenarios: one module per documented procedure (docs/SECURITY_BY_DEFAULT.md).

Everything comes from the phonelab plugin (fixtures/); nothing here knows
whether the rack is real or the twin.
"""
