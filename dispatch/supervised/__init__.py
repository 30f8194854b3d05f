"""A plugin the host stays beside instead of exec'ing: the launch policy, the one poll loop,
the handshake and the conversation, signals and deadlines, and how the run ends."""
