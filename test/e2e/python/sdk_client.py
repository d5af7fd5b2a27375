"""Drives Sluice with the official Python SDK, unchanged: create, stream, count_tokens, models.list.

Prints one JSON object with what each call returned, for the vitest test to assert on.
"""
import json
import os
import sys

import anthropic

client = anthropic.Anthropic(base_url=os.environ["SLUICE_URL"], auth_token=os.environ["SLUICE_TOKEN"], api_key=None, max_retries=0)
model = "claude-sonnet-4-6"
out = {}

msg = client.messages.create(model=model, max_tokens=64, messages=[{"role": "user", "content": "hello from python"}])
out["create"] = msg.content[0].text

with client.messages.stream(model=model, max_tokens=64, messages=[{"role": "user", "content": "stream from python"}]) as stream:
    out["stream"] = "".join(stream.text_stream)
    out["stream_stop_reason"] = stream.get_final_message().stop_reason

out["count_tokens"] = client.messages.count_tokens(model=model, messages=[{"role": "user", "content": "count"}]).input_tokens
out["models"] = [m.id for m in client.models.list(limit=3).data]

try:
    client.messages.create(model="claude-opus-4-7", max_tokens=64, messages=[{"role": "user", "content": "hi"}])
    out["denied"] = None
except anthropic.PermissionDeniedError as err:
    out["denied"] = {"status": err.status_code, "message": err.message}

json.dump(out, sys.stdout)
