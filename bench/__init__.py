"""`make bench`: cold start, warm overhead, bundle size, memory and local-stage throughput.

Every timed figure is a ratio or a difference against a baseline measured in the same run
(a bare boto3 handler making the same DynamoDB calls), so noise on a shared machine cancels out.
Nothing here asserts on time; `python -m bench --help` lists the knobs.

- baseline_handler.py: the bare handler (boto3 client, json, an if/else on the path).
- child.py: what runs in the fresh processes (cold start, warm invocations, peak RSS).
- fake_dynamodb.py: an HTTP endpoint answering canned DynamoDB JSON, for the warm figures.
- runner.py: builds the bundles, drives the children and the local stage, writes the report.
"""
