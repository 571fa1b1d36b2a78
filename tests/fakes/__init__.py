"""Local stand-ins for remote services the tests talk to over real HTTP."""
