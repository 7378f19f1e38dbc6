"""The ERP integration: message log, registry operations and the simulator command."""
