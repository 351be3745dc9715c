"""The real agents, installed from npm, run against a mock model API on 127.0.0.1."""
