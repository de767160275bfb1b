"""The 24-hour hotline server for property-management customer-service centres."""
