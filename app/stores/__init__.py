"""Store lifecycle: opening projects, the store ledger, closure/suspension and inspections."""
