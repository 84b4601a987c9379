"""Graphite, both directions: metric paths and the plaintext/pickle serializers, the carbon
returner's backend, and the render-API reader."""
