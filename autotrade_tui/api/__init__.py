"""The engine's HTTP + WebSocket API (SPEC §13): `wire` (its JSON, both ways), `server` (the
FastAPI app over an EngineLink), `service` (uvicorn in the engine's loop, on a Unix socket and
optionally TCP). Only `wire` is light; the rest imports FastAPI/uvicorn when it starts."""
