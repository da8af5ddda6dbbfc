"""Alert sinks: one module per destination. `build_sink(config)` builds one from config."""
