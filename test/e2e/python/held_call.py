"""A call that Sluice holds for approval, through the official Python SDK: prints JSON with the
streamed text, or the error status and message (used by test/e2e/approvals/python-held.test.ts)."""
import json
import os

import anthropic

client = anthropic.Anthropic(base_url=os.environ["SLUICE_URL"], auth_token=os.environ["SLUICE_TOKEN"], max_retries=0)
params = dict(model="claude-sonnet-4-6", max_tokens=64, messages=[{"role": "user", "content": os.environ["PROMPT"]}])
try:
    with client.messages.stream(**params) as stream:
        text = "".join(stream.text_stream)
    print(json.dumps({"text": text}))
except anthropic.APIStatusError as err:
    print(json.dumps({"status": err.status_code, "message": str(err)}))
