pytest_plugins = ["tests.engines"]
