"""Deploying and running a real hub: the contact point's kit, the gateway's certificate, the keys' life (expiry
warnings, the hub key's rotation), and what a serving process reloads on SIGHUP."""
