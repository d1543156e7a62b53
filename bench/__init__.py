"""Benchmarks for quickcommerce: ``python -m bench.run`` (see bench/run.py).

Every figure is measured against a baseline in the same run, on real processes
(redis-server, the app under uvicorn, a bare websockets relay, a Node.js Socket.io relay) on
free loopback ports, and written to docs/benchmarks.md with plots under docs/.
"""
