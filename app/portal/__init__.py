"""The dealer portal: dashboard, cart and order pages on top of catalog, promotions and orders."""
