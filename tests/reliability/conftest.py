"""The reliability suite (see README "Reliability and benchmarks"); it runs in CI with the rest."""


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: a long reliability test (the soak, the kill -9 trials); runs in CI, "
                   "deselect with -m 'not slow' for a quick local run")
