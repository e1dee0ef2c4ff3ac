"""`make bench`: cold start, warm overhead, authorization, bundle size, contract growth, local stage, engine.

Every timed figure is a ratio or a difference against a baseline measured in the same run
(a bare boto3 handler making the same DynamoDB calls), so noise on a shared machine cancels out.
Nothing here asserts on time; `python -m bench --help` lists the knobs.

One module per figure family (cold_start, warm, authorization, bundle_size, contract_scale,
local_stage, engine_scale), each with its measurement, its figures and its table rows; runner.py only
orchestrates them and report.py writes reports/bench.json and the table. common.py and sources.py
hold what they share (the child-process protocol; the bundle, the runtime folder and the Lambda
environment); child.py, baseline_handler.py and fake_dynamodb.py run in the processes measured.
"""
