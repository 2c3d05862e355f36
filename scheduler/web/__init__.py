"""What ``kcna-monitor serve`` offers over HTTP."""
