"""`phonelab storm`: twin phones as a load generator against any cluster.

Each storm phone runs the firmware's trust rules (phone_drivers/emulator/firmware*.py)
over real sockets in the order real phones use (docs/HARDWARE.md boot order) and keeps
per-stage times and the cause and server of its first failure; `run` starts phones
along a ramp, `summary` turns their results into percentiles, failure tables, a
throughput timeline, a JSON document and an SVG plot.
"""
