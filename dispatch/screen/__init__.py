"""What the user sees: a run's output, logs, records and progress (as text or JSON lines), the
host's own tables fitted to the terminal, and text from plugins or disk made safe to show."""
