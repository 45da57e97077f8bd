"""Local stand-ins for remote APIs, served on 127.0.0.1 for the demo, the tests and benchmarks."""
