"""Drives Message Batches through Sluice with the official Python SDK, unchanged.

`batch_client.py create` creates a batch and prints its id; `batch_client.py results ID` retrieves
it and reads its results (the SDK fetches the batch's results_url). Prints one JSON object.
"""
import json
import os
import sys

import anthropic

client = anthropic.Anthropic(base_url=os.environ["SLUICE_URL"], auth_token=os.environ["SLUICE_TOKEN"], api_key=None, max_retries=0)
params = {"model": "claude-sonnet-4-6", "max_tokens": 64}

if sys.argv[1] == "create":
    batch = client.messages.batches.create(
        requests=[
            {"custom_id": "py-plain", "params": {**params, "messages": [{"role": "user", "content": "hello batch from python"}]}},
            {"custom_id": "py-email", "params": {**params, "messages": [{"role": "user", "content": "mail jane.roe@example.org"}]}},
        ]
    )
    json.dump({"id": batch.id, "status": batch.processing_status}, sys.stdout)
else:
    batch = client.messages.batches.retrieve(sys.argv[2])
    results = {r.custom_id: r.result.message.content[0].text for r in client.messages.batches.results(sys.argv[2])}
    json.dump({"results_url": batch.results_url, "results": results}, sys.stdout)
