"""Reading vitals back, whatever the backend: the reader protocol, times, and the views top,
history and least_loaded."""
