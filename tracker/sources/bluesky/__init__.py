"""Bluesky through the public AppView (XRPC), with the atproto SDK's client and models."""
