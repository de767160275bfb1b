"""The JSON API for supervisors' tools: bearer tokens from `ivr token create`."""
