"""The orders API of the README, guarded with kinde_guard.fastapi (run: uvicorn examples.fastapi_app.app:app)."""
