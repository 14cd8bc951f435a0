"""Threshold signatures for Aura: FROST(Ed25519, SHA-512) and its key management."""
