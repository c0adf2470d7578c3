"""`phonelab preflight`: what a planned certificate procedure would do to each phone."""
