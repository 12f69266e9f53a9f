"""An MCP server guarded by Kinde tokens via KindeGuardMiddleware (run: uvicorn examples.mcp_server.app:app)."""
