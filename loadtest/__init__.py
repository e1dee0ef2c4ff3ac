"""Locust load tests of users-api: `locust -f loadtest/ --host URL [--profile daily|peak|smoke]`.

`locustfile.py` holds the one client class and the one load shape; the `_`-prefixed modules are
helpers (Locust skips files starting with `_` when given a directory): requests built from the
contract, load profiles from settings.yaml's `load` section, the pass/fail gate from its `alarms`.
"""
