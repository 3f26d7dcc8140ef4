"""The typed contract of the WebSocket protocol: client frames, server frames, errors.

Frames are msgspec Structs. Client frames are one tagged union decoded once at the edge
(liaison/web/ws.py); server frames are encoded once. docs/protocol.md's reference tables and
docs/protocol.schema.json are generated from these models (scripts/docs).
"""
