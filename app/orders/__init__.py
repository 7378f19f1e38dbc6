"""Dealer orders: submit (priced, idempotent), approval with a credit check, split into ERP sales orders."""
