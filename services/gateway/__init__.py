"""The gateway: the only public entry (API, auth, composition, callbacks)."""
