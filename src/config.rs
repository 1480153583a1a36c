//! Configuration: defaults < config file (TOML or YAML) < environment < command-line flags.
